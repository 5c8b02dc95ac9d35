/* cache_scratch: see cache.h (passive false sharing). */
#define SCRATCH 1
#include "cache.h"
