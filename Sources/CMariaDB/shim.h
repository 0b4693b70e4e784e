// The one door to MariaDB Connector/C (speaks the MySQL protocol to MySQL 8 and MariaDB).
#include <mysql.h>

// mysql_options takes a const void *; typed wrappers keep the Swift side simple.
static inline int cdc_mysql_option_uint(MYSQL *m, enum mysql_option o, unsigned int v) { return mysql_options(m, o, &v); }
static inline int cdc_mysql_option_str(MYSQL *m, enum mysql_option o, const char *v) { return mysql_options(m, o, v); }
