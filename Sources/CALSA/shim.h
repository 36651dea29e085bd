#ifndef HH_CALSA_SHIM_H
#define HH_CALSA_SHIM_H
#include <alsa/asoundlib.h>
#endif
