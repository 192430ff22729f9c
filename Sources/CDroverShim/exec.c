#define _GNU_SOURCE
#include "drover_shim.h"

#include <sys/mman.h>

int drover_memfd_inheritable(const char *name) { return memfd_create(name, 0); }
