#define _GNU_SOURCE
#include "drover_exec.h"

#include <sys/mman.h>

int drover_memfd_inheritable(const char *name) { return memfd_create(name, 0); }
