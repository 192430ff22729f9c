// libpq, PostgreSQL's own client library (Debian: libpq-dev). Its header lives in a
// subfolder of the system include path.
#include <postgresql/libpq-fe.h>
