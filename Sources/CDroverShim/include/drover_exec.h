#ifndef DROVER_EXEC_H
#define DROVER_EXEC_H

/* memfd_create(2) without MFD_CLOEXEC: an anonymous file that survives execve, for the
   in-place upgrade's state. Glibc's Swift module does not import it. */
int drover_memfd_inheritable(const char *name);

#endif
