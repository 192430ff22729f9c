#include "drover_shim.h"
#include <malloc.h>
void drover_tune_malloc(void) {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_TOP_PAD, 1 << 20);
}
