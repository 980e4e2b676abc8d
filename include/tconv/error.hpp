// tconv::Error: the one exception type for invalid input. Its message names the parameter, its value and
// the rule that was broken, e.g. "output_padding op[1]=2 must be smaller than stride s[1]=2 or dilation d[1]=1".
#pragma once

#include <stdexcept>
#include <string>

namespace tconv {

class Error : public std::invalid_argument {
public:
    explicit Error(const std::string& what) : std::invalid_argument(what) {}
};

}  // namespace tconv
