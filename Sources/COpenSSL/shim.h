#ifndef DEMARC_COPENSSL_SHIM_H
#define DEMARC_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/sha.h>

// The helpers below exist because OpenSSL defines these as function-like
// macros (or as macros over SSL_ctrl / BIO_ctrl) which Swift cannot import.
// Each keeps the macro's exact semantics; see PLATFORM-NOTES.md.

static inline long demarc_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long demarc_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long demarc_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int yes) {
    return SSL_CTX_set_read_ahead(ctx, yes);
}
static inline long demarc_SSL_set_mtu(SSL *ssl, long mtu) {
    return SSL_set_mtu(ssl, mtu);
}
static inline uint64_t demarc_SSL_OP_NO_QUERY_MTU(void) { return SSL_OP_NO_QUERY_MTU; }
static inline uint64_t demarc_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
static inline long demarc_DTLSv1_get_timeout(SSL *ssl, struct timeval *tv) {
    return DTLSv1_get_timeout(ssl, tv);
}
static inline long demarc_DTLSv1_handle_timeout(SSL *ssl) {
    return DTLSv1_handle_timeout(ssl);
}
static inline long demarc_BIO_get_mem_data(BIO *bio, char **out) {
    return BIO_get_mem_data(bio, out);
}
static inline const ASN1_TIME *demarc_X509_get_notBefore(const X509 *x) {
    return X509_get0_notBefore(x);
}
/// BIO_set_mem_eof_return is a macro over BIO_ctrl: makes an empty memory BIO report
/// "retry" (-1) instead of EOF, which DTLS over memory BIOs needs (media, issue 6).
static inline long demarc_BIO_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}
/// BIO_reset is a macro over BIO_ctrl: empties a memory BIO after its datagrams were taken.
static inline int demarc_BIO_reset(BIO *bio) {
    return (int)BIO_reset(bio);
}
/// EVP_EC_gen is a macro over the variadic EVP_PKEY_Q_keygen, which Swift cannot call.
static inline EVP_PKEY *demarc_EVP_EC_gen(const char *curve) {
    return EVP_EC_gen(curve);
}
/// SHA-1 over a caller-owned SHA_CTX (a plain struct, so a keyed HMAC state is copied by
/// value, without the allocation EVP_MD_CTX_copy_ex and EVP_MAC_init make per message in
/// OpenSSL 3.0). OpenSSL 3.0 marks these deprecated, not removed; they run the same
/// SHA-NI/AVX2 assembly as EVP. Used only for SRTP's per-packet HMAC-SHA1 (media, issue 6).
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
static inline int demarc_SHA1_Init(SHA_CTX *c) { return SHA1_Init(c); }
static inline int demarc_SHA1_Update(SHA_CTX *c, const void *data, size_t len) { return SHA1_Update(c, data, len); }
static inline int demarc_SHA1_Final(unsigned char *md, SHA_CTX *c) { return SHA1_Final(md, c); }
#pragma clang diagnostic pop
#endif
