// `tconv train`: learned upsampling (single-image super-resolution) and a denoising autoencoder, trained with
// tconv::nn, compared with the fixed interpolations. The pieces the tests check on their own live here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tconv::cli::train {

// A grey image, values in [0, 1], row-major.
struct Gray {
    int w = 0, h = 0;
    std::vector<float> v;
    Gray() = default;
    Gray(int w_, int h_, float fill = 0) : w(w_), h(h_), v(size_t(w_) * size_t(h_), fill) {}
    float& at(int x, int y) { return v[size_t(y) * size_t(w) + size_t(x)]; }
    float at(int x, int y) const { return v[size_t(y) * size_t(w) + size_t(x)]; }
};

// PSNR in dB for values in [0, 1], ignoring `shave` pixels at each border (infinite for equal images).
double psnr(const Gray& a, const Gray& b, int shave = 0);
// SSIM (Wang et al. 2004): 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1,
// averaged over the positions where the window fits inside the image less `shave` pixels per border.
double ssim(const Gray& a, const Gray& b, int shave = 0);
// Area downsampling: each output pixel is the mean of an f x f block (w and h cropped to multiples of f).
Gray box_downsample(const Gray& a, int f);
// Procedural test pictures (shapes, gradients, stripes, textures) from a seed.
Gray procedural_image(int w, int h, uint64_t seed);
// How striped a method leaves a flat region: the mean of each of the f x f output phases over the interior,
// then (max - min) / max (checkerboard::unevenness of the phase means).
double flat_unevenness(const Gray& upsampled_flat, int f, int border);

}  // namespace tconv::cli::train
