#ifndef HH_CSPEEXDSP_SHIM_H
#define HH_CSPEEXDSP_SHIM_H
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

// The control requests are macros; give Swift constants it can import.
static const int hh_speex_echo_set_sampling_rate = SPEEX_ECHO_SET_SAMPLING_RATE;
static const int hh_speex_echo_get_impulse_response_size = SPEEX_ECHO_GET_IMPULSE_RESPONSE_SIZE;
static const int hh_speex_echo_get_impulse_response = SPEEX_ECHO_GET_IMPULSE_RESPONSE;
static const int hh_speex_preprocess_set_echo_state = SPEEX_PREPROCESS_SET_ECHO_STATE;
static const int hh_speex_preprocess_set_echo_suppress = SPEEX_PREPROCESS_SET_ECHO_SUPPRESS;
static const int hh_speex_preprocess_set_echo_suppress_active = SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE;
static const int hh_speex_preprocess_set_denoise = SPEEX_PREPROCESS_SET_DENOISE;
static const int hh_speex_preprocess_set_agc = SPEEX_PREPROCESS_SET_AGC;
#endif
