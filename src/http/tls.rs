//! TLS on the listener (rustls): a certificate chain and key from PEM files, replaced while
//! serving (SIGHUP, or the files changing) without touching open connections: each handshake
//! asks the resolver for the current certificate, so only connections made after a reload see
//! the new one. A reload that fails (a missing file, a key that does not match) keeps the
//! certificate in use and says why in the log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::{Context, anyhow};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate and key files, and what was last loaded from them.
#[derive(Debug)]
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The files' modification times and sizes when loaded, to notice a change.
    stamp: (Stamp, Stamp),
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())))
}

impl Certificates {
    /// Load both files; an error says which file and what is wrong with it.
    pub fn load(cert_path: &Path, key_path: &Path) -> anyhow::Result<Arc<Certificates>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = load(&provider, cert_path, key_path)?;
        Ok(Arc::new(Certificates {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            current: RwLock::new(loaded),
        }))
    }

    /// Read the files again and use them for new connections; on error keep the current ones.
    pub fn reload(&self) -> anyhow::Result<()> {
        let loaded = load(&self.provider, &self.cert_path, &self.key_path)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(())
    }

    /// Reload when either file changed (modification time or size) since the last load.
    pub fn reload_if_changed(&self) -> Option<anyhow::Result<()>> {
        let now = (stamp(&self.cert_path), stamp(&self.key_path));
        let last = self.current.read().unwrap_or_else(|p| p.into_inner()).stamp;
        if now == last || now.0.is_none() || now.1.is_none() {
            return None;
        }
        let result = self.reload();
        if result.is_err() {
            // Do not retry the same broken files every few seconds; a further change retries.
            self.current.write().unwrap_or_else(|p| p.into_inner()).stamp = now;
        }
        Some(result)
    }

    /// The certificate's subject as the files hold it now (for the log).
    pub fn describe(&self) -> String {
        format!("{} (key {})", self.cert_path.display(), self.key_path.display())
    }

    /// The rustls server configuration: HTTP/1.1, TLS 1.2 and 1.3, this resolver.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).key.clone())
    }
}

fn load(provider: &CryptoProvider, cert_path: &Path, key_path: &Path) -> anyhow::Result<Loaded> {
    let stamp = (stamp(cert_path), stamp(key_path));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("reading the TLS certificate file {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("the TLS certificate file {} is not PEM", cert_path.display()))?;
    if chain.is_empty() {
        return Err(anyhow!(
            "the TLS certificate file {} holds no certificate (expected PEM blocks '-----BEGIN CERTIFICATE-----')",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).with_context(|| {
        format!(
            "reading the TLS key file {}: expected one PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
            key_path.display()
        )
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| anyhow!("the TLS key in {} cannot be used: {e}", key_path.display()))?;
    let key = CertifiedKey::new(chain, signing);
    key.keys_match().map_err(|e| {
        anyhow!(
            "the TLS key in {} does not belong to the certificate in {}: {e}",
            key_path.display(),
            cert_path.display()
        )
    })?;
    Ok(Loaded { key: Arc::new(key), stamp })
}
