// OpenSSL's libcrypto, used only for SHA-256 through the EVP digest API (not deprecated in 3.x).
#include <openssl/evp.h>
