//! Customer interactions in web sessions; a user's open session is reused through a bounded LRU.

use std::num::NonZeroUsize;

use lru::LruCache;
use rand::Rng;

use super::{weighted, Ctx, Emission, Service};
use crate::domain::events::{CustomerInteraction, Event, InteractionType};
use crate::domain::ports::RepositoryError;
use crate::domain::record::Record;
use crate::domain::{joined, Text};

const TYPES: [(InteractionType, u32); 7] = [
    (InteractionType::PageView, 45),
    (InteractionType::Search, 20),
    (InteractionType::CartAdd, 12),
    (InteractionType::CartRemove, 5),
    (InteractionType::WishlistAdd, 8),
    (InteractionType::Review, 5),
    (InteractionType::SupportChat, 5),
];

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
];

const SEARCHES: [&str; 8] = [
    "wireless headphones",
    "running shoes",
    "coffee maker",
    "yoga mat",
    "science fiction",
    "face serum",
    "desk lamp",
    "rain jacket",
];

#[derive(Debug, Clone)]
struct Session {
    id: Text,
    ip: Text,
    user_agent: &'static str,
}

pub struct InteractionService {
    p_new_session: f64,
    /// Open session per user (index into the catalog's users).
    sessions: LruCache<usize, Session, rustc_hash::FxBuildHasher>,
}

impl InteractionService {
    pub fn new(p_new_session: f64, max_sessions: NonZeroUsize) -> Self {
        Self {
            p_new_session,
            sessions: LruCache::with_hasher(max_sessions, rustc_hash::FxBuildHasher),
        }
    }

    fn session_for(&mut self, user: usize, ctx: &mut Ctx<'_>) -> Session {
        if !ctx.rng.random_bool(self.p_new_session) {
            if let Some(s) = self.sessions.get(&user) {
                return s.clone();
            }
        }
        // Drawn as i32, as they always were: the same seed gives the same addresses.
        let octets: [i32; 4] = [
            ctx.rng.random_range(11..=223),
            ctx.rng.random_range(0..=255),
            ctx.rng.random_range(0..=255),
            ctx.rng.random_range(1..=254),
        ];
        let ip = dotted(octets.map(|o| o as u8));
        let session = Session {
            id: ctx.ids.next("sess"),
            ip,
            user_agent: USER_AGENTS[ctx.rng.random_range(0..USER_AGENTS.len())],
        };
        self.sessions.put(user, session.clone());
        session
    }
}

/// The search page of `query`, spaces as `+`.
fn search_url(query: &str) -> Text {
    let mut url = Text::from("/search?q=");
    url.extend(query.chars().map(|c| if c == ' ' { '+' } else { c }));
    url
}

/// An IPv4 address in dotted decimal.
fn dotted(octets: [u8; 4]) -> Text {
    let mut ip = Text::with_capacity(15);
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            ip.push('.');
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let first = match octet {
            100.. => 0,
            10..=99 => 1,
            _ => 2,
        };
        for d in &digits[first..] {
            ip.push(char::from(b'0' + d));
        }
    }
    ip
}

impl Service for InteractionService {
    fn name(&self) -> &'static str {
        "interactions"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let user_idx = ctx.world.customer(ctx.rng, ctx.now_ms)?;
        let session = self.session_for(user_idx, ctx);
        let catalog = &ctx.world.catalog;
        let kind = weighted(ctx.rng, &TYPES);
        let (product_id, search_query, page_url, duration_ms) = match kind {
            InteractionType::Search => {
                let q = SEARCHES[ctx.rng.random_range(0..SEARCHES.len())];
                (None, Some(q.into()), Some(search_url(q)), None)
            }
            InteractionType::SupportChat => (
                None,
                None,
                Some("/support".into()),
                Some(ctx.rng.random_range(30_000..=900_000)),
            ),
            InteractionType::PageView => {
                let p = &catalog.products[catalog.pick_product(ctx.rng)].product_id;
                let url = joined(&["/products/", p]);
                (
                    Some(Text::from(p.as_str())),
                    None,
                    Some(url),
                    Some(ctx.rng.random_range(500..=120_000)),
                )
            }
            other => {
                let p = &catalog.products[catalog.pick_product(ctx.rng)].product_id;
                let url = match other {
                    InteractionType::Review => joined(&["/products/", p, "/reviews"]),
                    InteractionType::WishlistAdd => "/wishlist".into(),
                    _ => "/cart".into(),
                };
                (Some(Text::from(p.as_str())), None, Some(url), None)
            }
        };
        out.now(Record::new(
            session.id.clone(),
            None,
            Event::Interaction(CustomerInteraction {
                interaction_id: ctx.ids.next("int"),
                user_id: catalog.users.user_id(user_idx),
                session_id: session.id,
                interaction_type: kind,
                product_id,
                search_query,
                page_url,
                duration_ms,
                user_agent: session.user_agent,
                ip_address: session.ip,
                country: catalog.users.country(user_idx).into(),
                ts: 0,
            }),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::testing::Harness;
    use std::collections::{HashMap, HashSet};

    fn run(n: usize, p_new: f64, cache: usize) -> Vec<CustomerInteraction> {
        let mut h = Harness::new(0.0, 3);
        let mut svc = InteractionService::new(p_new, NonZeroUsize::new(cache).unwrap());
        (0..n)
            .map(
                |_| match h.emit(&mut svc).pop().unwrap().1.remove(0).event {
                    Event::Interaction(i) => i,
                    other => panic!("unexpected {other:?}"),
                },
            )
            .collect()
    }

    #[test]
    fn urls_and_addresses_are_written_as_the_formatter_would() {
        assert_eq!(dotted([11, 0, 255, 100]), "11.0.255.100");
        assert_eq!(dotted([223, 9, 10, 1]), "223.9.10.1");
        assert_eq!(search_url("running shoes"), "/search?q=running+shoes");
        assert_eq!(
            joined(&["/products/", "P000042", "/reviews"]),
            "/products/P000042/reviews"
        );
    }

    #[test]
    fn a_session_belongs_to_one_user_and_is_reused() {
        let all = run(2_000, 0.4, 100);
        let mut owner: HashMap<&str, &str> = HashMap::new();
        for i in &all {
            assert_eq!(
                *owner.entry(&i.session_id).or_insert(&i.user_id),
                i.user_id.as_str()
            );
        }
        assert!(
            owner.len() < all.len() / 2,
            "sessions are reused: {} for {}",
            owner.len(),
            all.len()
        );
    }

    #[test]
    fn p_new_session_one_never_reuses_a_session() {
        let all = run(500, 1.0, 100);
        let distinct: HashSet<_> = all.iter().map(|i| &i.session_id).collect();
        assert_eq!(distinct.len(), all.len());
    }

    #[test]
    fn searches_carry_a_query_and_product_events_a_product() {
        for i in run(1_000, 0.4, 10) {
            match i.interaction_type {
                InteractionType::Search => {
                    assert!(i.search_query.is_some() && i.product_id.is_none())
                }
                InteractionType::SupportChat => assert!(i.product_id.is_none()),
                _ => assert!(i.product_id.is_some()),
            }
        }
    }
}
