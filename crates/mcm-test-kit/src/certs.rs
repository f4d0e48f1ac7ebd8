//! Throwaway PKI for one plane.
//!
//! kube-apiserver insists on TLS and on service-account keys. A fresh CA per plane
//! keeps planes independent and needs no tools on the machine: everything is generated
//! in-process (rcgen, ECDSA P-256). Certificates use rcgen's default validity
//! (1975–4096), so a background plane never expires under a developer.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// The identity of the admin client: `O=system:masters` is what RBAC treats as cluster
/// admin, so tests and MCM can do anything without bootstrapping roles.
pub const ADMIN_USER: &str = "mcm-test-kit-admin";
/// Group of the admin client certificate.
pub const ADMIN_GROUP: &str = "system:masters";

/// PEM texts of one plane's certificates and keys.
#[derive(Clone)]
pub struct Pki {
    /// The CA certificate (trusted for server and client certificates).
    pub ca_cert: String,
    /// kube-apiserver's serving certificate (SAN 127.0.0.1, localhost).
    pub server_cert: String,
    /// Its key.
    pub server_key: String,
    /// The admin client certificate (`O=system:masters`).
    pub admin_cert: String,
    /// Its key.
    pub admin_key: String,
    /// Private key that signs service-account tokens (PKCS#8).
    pub service_account_key: String,
    /// Its public half (SPKI), used to verify tokens.
    pub service_account_public_key: String,
}

impl std::fmt::Debug for Pki {
    // Keys are secrets even when throwaway: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

/// Where [`Pki::write_to`] put the files.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// `ca.crt`
    pub ca_cert: PathBuf,
    /// `server.crt`
    pub server_cert: PathBuf,
    /// `server.key`
    pub server_key: PathBuf,
    /// `admin.crt`
    pub admin_cert: PathBuf,
    /// `admin.key`
    pub admin_key: PathBuf,
    /// `sa.key`
    pub service_account_key: PathBuf,
    /// `sa.pub`
    pub service_account_public_key: PathBuf,
}

impl Pki {
    /// Generates a CA and the certificates signed by it.
    pub fn generate() -> Result<Pki> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mcm-test-kit CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let admin_key = KeyPair::generate()?;
        let mut admin_params = CertificateParams::new(Vec::<String>::new())?;
        admin_params
            .distinguished_name
            .push(DnType::CommonName, ADMIN_USER);
        admin_params
            .distinguished_name
            .push(DnType::OrganizationName, ADMIN_GROUP);
        admin_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        admin_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin_params.signed_by(&admin_key, &issuer)?;

        let service_account = KeyPair::generate()?;

        Ok(Pki {
            ca_cert: ca_cert.pem(),
            server_cert: server_cert.pem(),
            server_key: server_key.serialize_pem(),
            admin_cert: admin_cert.pem(),
            admin_key: admin_key.serialize_pem(),
            service_account_key: service_account.serialize_pem(),
            service_account_public_key: service_account.public_key_pem(),
        })
    }

    /// Writes the PEM files into `dir` (created if missing); keys get mode 0600.
    pub fn write_to(&self, dir: &Path) -> Result<PkiFiles> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let files = PkiFiles {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            service_account_key: dir.join("sa.key"),
            service_account_public_key: dir.join("sa.pub"),
        };
        write_file(&files.ca_cert, &self.ca_cert, false)?;
        write_file(&files.server_cert, &self.server_cert, false)?;
        write_file(&files.server_key, &self.server_key, true)?;
        write_file(&files.admin_cert, &self.admin_cert, false)?;
        write_file(&files.admin_key, &self.admin_key, true)?;
        write_file(&files.service_account_key, &self.service_account_key, true)?;
        write_file(
            &files.service_account_public_key,
            &self.service_account_public_key,
            false,
        )?;
        Ok(files)
    }
}

/// Writes `contents` to `path`; `secret` files are readable by the owner only.
pub(crate) fn write_file(path: &Path, contents: &str, secret: bool) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_pem_material_and_writes_private_keys_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let pki = Pki::generate().unwrap();
        for pem in [&pki.ca_cert, &pki.server_cert, &pki.admin_cert] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        for pem in [&pki.server_key, &pki.admin_key, &pki.service_account_key] {
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        }
        assert!(
            pki.service_account_public_key
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        assert_ne!(pki.server_key, pki.admin_key);
        assert!(!format!("{pki:?}").contains("PRIVATE"));

        let dir = tempfile::tempdir().unwrap();
        let files = pki.write_to(dir.path()).unwrap();
        let mode = std::fs::metadata(&files.admin_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "admin.key mode {mode:o}");
        assert_eq!(
            std::fs::read_to_string(&files.ca_cert).unwrap(),
            pki.ca_cert
        );
    }
}
