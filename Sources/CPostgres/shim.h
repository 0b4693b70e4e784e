// The one door to libpq (PostgreSQL's C client library).
#include <libpq-fe.h>
