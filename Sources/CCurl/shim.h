// The one door to libcurl. curl_easy_setopt/getinfo are variadic, which Swift cannot call:
// these typed wrappers are.
#include <curl/curl.h>

static inline CURLcode cdc_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cdc_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cdc_curl_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cdc_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*cdc_curl_write_cb)(char *, size_t, size_t, void *);
static inline CURLcode cdc_curl_setopt_write(CURL *h, CURLoption o, cdc_curl_write_cb cb) { return curl_easy_setopt(h, o, cb); }

static inline CURLcode cdc_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
