//! What one core builds from the sites in force: per site a router (its route caches
//! are per core), a static file cache and the site's middleware chain. Rebuilt when a
//! reload published a new generation, at the core's next request.

use std::rc::Rc;
use std::sync::Arc;

use super::live::{SharedSite, SitesState};
use crate::middleware::Chain;
use crate::router::Router;
use crate::static_files::StaticFiles;

/// One site on one core.
pub struct CoreSite {
    state: Arc<SitesState>,
    index: usize,
    pub router: Rc<Router>,
    pub static_files: StaticFiles,
    /// The site's middleware (rate limit, compression, static cache, error pages).
    pub chain: Chain,
}

impl CoreSite {
    /// What the cores share of this site (settings, PHP values, X-Sendfile places).
    pub fn shared(&self) -> &SharedSite {
        &self.state.sites[self.index]
    }
}

/// Every site of one generation, on one core.
pub struct CoreSites {
    pub generation: u64,
    pub state: Arc<SitesState>,
    pub sites: Vec<Rc<CoreSite>>,
}

impl CoreSites {
    pub fn build(generation: u64, state: Arc<SitesState>) -> Result<CoreSites, String> {
        let mut sites = Vec::with_capacity(state.sites.len());
        for (index, s) in state.sites.iter().enumerate() {
            let router = Rc::new(
                Router::new(&s.spec.document_root, s.spec.index_file.clone()).map_err(|e| {
                    format!(
                        "site {:?}: document root {}: {e}",
                        s.spec.name,
                        s.spec.document_root.display()
                    )
                })?,
            );
            let chain = s.middleware.chain();
            let static_files =
                StaticFiles::new(Rc::clone(&router), s.middleware.compression().cloned());
            sites.push(Rc::new(CoreSite {
                state: Arc::clone(&state),
                index,
                router,
                static_files,
                chain,
            }));
        }
        Ok(CoreSites {
            generation,
            state,
            sites,
        })
    }
}
