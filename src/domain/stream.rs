//! The streams retailgen produces: one Avro record schema and one topic each.

/// A stream family member. Adding a stream = a variant here, an `.avsc` and a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Orders,
    Payments,
    Shipments,
    CustomerInteractions,
    InventoryChanges,
    PriceChanges,
    PosEvents,
    PosTransactions,
    Refunds,
    StoreInventoryChanges,
    RestockAlerts,
    FootTraffic,
    ShelfEvents,
}

impl Stream {
    pub const ALL: [Stream; 13] = [
        Stream::Orders,
        Stream::Payments,
        Stream::Shipments,
        Stream::CustomerInteractions,
        Stream::InventoryChanges,
        Stream::PriceChanges,
        Stream::PosEvents,
        Stream::PosTransactions,
        Stream::Refunds,
        Stream::StoreInventoryChanges,
        Stream::RestockAlerts,
        Stream::FootTraffic,
        Stream::ShelfEvents,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The ledgers: the stock topics and price changes, which Kafka-canonical recovery, the POS
    /// simulator and every stock or price consumer replay in partition order (the last change
    /// of a key is its current value), so no change may be overtaken by a later one of its key.
    pub fn is_ledger(self) -> bool {
        matches!(
            self,
            Stream::InventoryChanges | Stream::StoreInventoryChanges | Stream::PriceChanges
        )
    }

    /// The other streams whose earlier records a record of this one names by a key it carries,
    /// the named record's own key: an order the price changes of its product, a payment and a
    /// shipment their order (and a shipment its payment) by the order id they share, a SALE its
    /// order. Only that key's earlier records matter. These, with [`Stream::names_whole`], are
    /// the references a crash could break (see the Kafka publisher's barrier); records a stream
    /// names of its own are on the same key (a basket's events, a visit's shelf events, a key's
    /// stock chain), so partition order keeps them.
    pub fn names_by_key(self) -> &'static [Stream] {
        use Stream::*;
        match self {
            Orders => &[PriceChanges],
            Payments => &[Orders],
            Shipments => &[Orders, Payments],
            InventoryChanges => &[Orders],
            _ => &[],
        }
    }

    /// The other streams whose every earlier record a record of this one may name or depend on:
    /// a transaction its POS events, visit and shelf events, a POS event the prices and visits, a
    /// refund its transaction, a store's stock change the transactions, refunds and transfers out,
    /// an alert the stock change that caused it.
    pub fn names_whole(self) -> &'static [Stream] {
        use Stream::*;
        match self {
            Orders | Payments | Shipments | InventoryChanges | CustomerInteractions
            | PriceChanges => &[],
            PosEvents => &[PriceChanges, FootTraffic],
            PosTransactions => &[PosEvents, PriceChanges, FootTraffic, ShelfEvents],
            Refunds => &[PosTransactions],
            StoreInventoryChanges => &[PosTransactions, Refunds, InventoryChanges],
            RestockAlerts => &[InventoryChanges, StoreInventoryChanges],
            FootTraffic => &[ShelfEvents, PosTransactions],
            ShelfEvents => &[FootTraffic],
        }
    }

    /// Whether records of some stream name this one's by key.
    pub fn named_by_key(self) -> bool {
        matches!(
            self,
            Stream::Orders | Stream::Payments | Stream::PriceChanges
        )
    }

    /// Dense index, for per-stream arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `entity` header value.
    pub fn entity(self) -> &'static str {
        match self {
            Stream::Orders => "order",
            Stream::Payments => "payment",
            Stream::Shipments => "shipment",
            Stream::CustomerInteractions => "customer_interaction",
            Stream::InventoryChanges => "inventory_change",
            Stream::PriceChanges => "price_change",
            Stream::PosEvents => "pos_event",
            Stream::PosTransactions => "pos_transaction",
            Stream::Refunds => "refund",
            Stream::StoreInventoryChanges => "store_inventory_change",
            Stream::RestockAlerts => "restock_alert",
            Stream::FootTraffic => "foot_traffic",
            Stream::ShelfEvents => "shelf_event",
        }
    }
}

/// The topic each stream is written to (configurable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicNames(pub [String; Stream::COUNT]);

impl TopicNames {
    pub fn of(&self, stream: Stream) -> &str {
        &self.0[stream.index()]
    }

    pub fn iter(&self) -> impl Iterator<Item = (Stream, &str)> {
        Stream::ALL.into_iter().map(|s| (s, self.of(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_named_by_key_or_whole_never_both_and_never_by_itself() {
        for s in Stream::ALL {
            let (by_key, whole) = (s.names_by_key(), s.names_whole());
            assert!(by_key.iter().all(|n| n.named_by_key()), "{s:?}");
            assert!(by_key.iter().all(|n| !whole.contains(n)), "{s:?}");
            assert!(!by_key.contains(&s) && !whole.contains(&s), "{s:?}");
        }
        let mut named_by_key = Stream::ALL.iter().filter(|s| s.named_by_key());
        assert!(named_by_key.all(|n| Stream::ALL.iter().any(|s| s.names_by_key().contains(n))));
    }
}
