/* cache_thrash: see cache.h (active false sharing). */
#define SCRATCH 0
#include "cache.h"
