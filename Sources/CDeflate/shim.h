#ifndef MIXSHARDS_CDEFLATE_SHIM_H
#define MIXSHARDS_CDEFLATE_SHIM_H
#include <libdeflate.h>
#endif
