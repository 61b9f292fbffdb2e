// Package tlsx replaces the OpenSSL side of the stock wsrep_sst_mariabackup
// script: the socat openssl-listen/openssl-connect options of encrypt=2, 3
// and 4, the preflight checks of wsrep_sst_common (verify_cert_matches_key,
// verify_ca_matches_cert, openssl_getCN, wsrep_gen_secret, is_local_ip),
// and the `openssl enc -pbkdf2` stream cipher of encrypt=1.
//
// ServerConfig (joiner, TLS server) and ClientConfig (donor, TLS client)
// turn a Params of file paths, an encrypt value, an ssl-mode and an
// expected peer name into a *tls.Config that interoperates with the stock
// script's socat on the other node: TLS 1.2 or later (on 1.2 only ECDHE
// suites with AES-GCM or ChaCha20-Poly1305), no SNI, no ALPN, client
// certificates demanded when a CA is configured, and the peer name checked
// as OpenSSL's X509_check_host does (CN-only certificates included, see
// MatchName). Preflight failures are *CheckError values naming the file,
// which the caller maps to exit code 22. NewEncryptWriter and
// NewDecryptReader are byte-compatible with `openssl enc`; the xbcrypt
// format is not supported.
//
// The package deliberately knows nothing of my.cnf, Galera's address
// syntax or the magic file: the caller resolves options (tca, tcert, ssl-*,
// the encrypt=0 to 3 upgrade of read_cnf) and decides what to log. It
// opens no connections and never logs.
package tlsx
