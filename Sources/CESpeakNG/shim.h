#ifndef HH_CESPEAKNG_SHIM_H
#define HH_CESPEAKNG_SHIM_H
#include <espeak-ng/speak_lib.h>
#endif
