#ifndef HH_CPOCKETSPHINX_SHIM_H
#define HH_CPOCKETSPHINX_SHIM_H
#include <pocketsphinx.h>
#endif
