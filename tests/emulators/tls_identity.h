#pragma once

#include <string>

namespace crmsync::emulators {

// The certificate chain and key the emulator serves HTTPS with, as PEM text. `ca_pem` is what a
// client must trust (written to --ca-out): the generated CA, or the given certificate itself.
struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
};

// A fresh EC P-256 CA and a server certificate it signs, valid for 127.0.0.1 and localhost
// (subjectAltName IP:127.0.0.1, IP:::1, DNS:localhost) for 30 days. Throws std::runtime_error.
TlsIdentity make_self_signed_identity();

// Reads --tls-cert / --tls-key files; the certificate file also serves as the CA file.
TlsIdentity load_tls_identity(const std::string& cert_file, const std::string& key_file);

}  // namespace crmsync::emulators
