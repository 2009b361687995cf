// troupe.hpp: everything a user of troupe's core needs, in one include: the core layer's
// umbrella, troupe/core.hpp, under its first name. Each later layer has its own umbrella,
// troupe/<layer>.hpp (otp.hpp, io.hpp, testkit.hpp, ...); include those you use, in any order.
#pragma once

#include "troupe/core.hpp"
