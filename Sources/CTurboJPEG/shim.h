#ifndef HH_CTURBOJPEG_SHIM_H
#define HH_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
