//! A reorder (jitter) buffer for packet streams numbered by 16-bit sequence numbers.
//!
//! RTP over UDP arrives out of order, duplicated or not at all. [`ReorderBuffer`] takes
//! packets in arrival order and gives them back in sequence order: duplicates and packets
//! older than what was already released are dropped, and a missing packet is waited for
//! only while fewer than `depth` later packets are held; then the gap is skipped and the
//! release says how many were lost. Sequence numbers wrap from 65535 to 0; the buffer
//! counts on an extended 64-bit sequence internally so the wrap is seamless.

use std::collections::BTreeMap;

/// What became of a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Held until its turn.
    Buffered,
    /// The same sequence number is already held; this copy was dropped.
    Duplicate,
    /// Its turn has passed (released, or skipped as lost); dropped.
    Late,
}

/// A packet released in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released<T> {
    /// Its sequence number.
    pub seq: u16,
    /// The packet.
    pub item: T,
    /// Packets given up on just before this one (0 when nothing was missing).
    pub lost_before: u64,
}

/// Puts one stream's packets back in order.
#[derive(Debug)]
pub struct ReorderBuffer<T> {
    depth: usize,
    /// Extended sequence number of the next packet to release, once a packet has been seen.
    next: Option<u64>,
    /// Whether anything was released yet (until then an earlier packet may still come first).
    released_any: bool,
    held: BTreeMap<u64, T>,
}

/// Where the first packet's extended number starts: far from zero, so earlier ones still fit.
const FIRST_EXTENDED: u64 = 1 << 32;

impl<T> ReorderBuffer<T> {
    /// A buffer that waits for a missing packet while fewer than `depth` later ones are held
    /// (`depth` 0 never waits).
    pub fn new(depth: usize) -> Self {
        ReorderBuffer { depth, next: None, released_any: false, held: BTreeMap::new() }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no packet is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Takes a packet as it arrived.
    pub fn push(&mut self, seq: u16, item: T) -> Pushed {
        let next = *self.next.get_or_insert(FIRST_EXTENDED + u64::from(seq));
        // Signed distance from the next expected number, modulo 2^16.
        let ahead = i64::from(seq.wrapping_sub(next as u16) as i16);
        let extended = next.wrapping_add_signed(ahead);
        if ahead < 0 {
            if self.released_any {
                return Pushed::Late;
            }
            // Nothing released yet: an earlier packet that arrived second still goes first.
            self.next = Some(extended);
        }
        if self.held.contains_key(&extended) {
            return Pushed::Duplicate;
        }
        self.held.insert(extended, item);
        Pushed::Buffered
    }

    /// Releases the next packet if it is here, or the first one after a gap that has been
    /// waited on long enough; `None` while waiting.
    ///
    /// The first packet waits until `depth` more are held, since packets sent before it
    /// may still arrive: the buffer's latency is paid once, at the start of the stream.
    pub fn pop(&mut self) -> Option<Released<T>> {
        let next = self.next?;
        let in_turn = self.released_any && self.held.contains_key(&next);
        if in_turn || self.held.len() > self.depth { self.release_first() } else { None }
    }

    /// Releases the first packet held whatever is missing before it (the stream has ended,
    /// or the caller cannot wait any longer).
    pub fn flush(&mut self) -> Option<Released<T>> {
        self.release_first()
    }

    fn release_first(&mut self) -> Option<Released<T>> {
        let (extended, item) = self.held.pop_first()?;
        let lost_before = extended.saturating_sub(self.next.unwrap_or(extended));
        self.next = Some(extended + 1);
        self.released_any = true;
        Some(Released { seq: extended as u16, item, lost_before })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pushes every (seq, item) and pops after each push, then flushes.
    fn run(depth: usize, arrivals: &[u16]) -> Vec<Released<u16>> {
        let mut buffer = ReorderBuffer::new(depth);
        let mut out = Vec::new();
        for &seq in arrivals {
            buffer.push(seq, seq);
            while let Some(released) = buffer.pop() {
                out.push(released);
            }
        }
        while let Some(released) = buffer.flush() {
            out.push(released);
        }
        out
    }

    fn seqs(released: &[Released<u16>]) -> Vec<u16> {
        released.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn swapped_packets_come_out_in_order() {
        let out = run(4, &[10, 12, 11, 14, 13]);
        assert_eq!(seqs(&out), vec![10, 11, 12, 13, 14]);
        assert!(out.iter().all(|r| r.lost_before == 0 && r.item == r.seq));
    }

    #[test]
    fn order_survives_the_wrap() {
        let out = run(4, &[65_534, 0, 65_535, 1, 2]);
        assert_eq!(seqs(&out), vec![65_534, 65_535, 0, 1, 2]);
    }

    #[test]
    fn duplicates_and_late_packets_are_dropped() {
        let mut buffer = ReorderBuffer::new(1);
        assert_eq!(buffer.push(5, "a"), Pushed::Buffered);
        assert_eq!(buffer.push(7, "c"), Pushed::Buffered);
        assert_eq!(buffer.push(7, "c again"), Pushed::Duplicate);
        assert_eq!(buffer.pop().map(|r| r.item), Some("a"));
        assert_eq!(buffer.pop(), None, "6 is still awaited");
        assert_eq!(buffer.push(5, "a again"), Pushed::Late);
        assert_eq!(buffer.push(6, "b"), Pushed::Buffered);
        assert_eq!(buffer.pop().map(|r| r.item), Some("b"));
        assert_eq!(buffer.pop().map(|r| r.item), Some("c"));
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_gap_is_skipped_once_depth_packets_wait_behind_it() {
        let mut buffer = ReorderBuffer::new(3);
        // 2 and 3 are lost.
        for seq in [1, 4, 5] {
            buffer.push(seq, ());
            assert_eq!(buffer.pop(), None, "the start waits for 4 packets");
        }
        buffer.push(6, ());
        assert_eq!(buffer.pop().map(|r| (r.seq, r.lost_before)), Some((1, 0)));
        assert_eq!(buffer.pop(), None, "2 is awaited behind 3 packets");
        buffer.push(7, ());
        let released = buffer.pop().unwrap();
        assert_eq!((released.seq, released.lost_before), (4, 2));
        assert_eq!(seqs_of(&mut buffer), vec![5, 6, 7]);
        // Packet 3 arriving now is too late.
        assert_eq!(buffer.push(3, ()), Pushed::Late);
    }

    fn seqs_of(buffer: &mut ReorderBuffer<()>) -> Vec<u16> {
        std::iter::from_fn(|| buffer.pop()).map(|r| r.seq).collect()
    }

    #[test]
    fn an_earlier_packet_arriving_second_still_goes_first() {
        let out = run(2, &[101, 100, 102]);
        assert_eq!(seqs(&out), vec![100, 101, 102]);
    }

    #[test]
    fn depth_zero_never_waits() {
        let out = run(0, &[1, 3, 2, 4]);
        assert_eq!(seqs(&out), vec![1, 3, 4]);
        assert_eq!(out[1].lost_before, 1);
    }

    /// Arrival order where each packet is late by at most `max_delay` positions.
    fn jittered(start: u16, delays: &[usize]) -> Vec<u16> {
        let mut keyed: Vec<(usize, u16)> =
            delays.iter().enumerate().map(|(i, &d)| (i + d, start.wrapping_add(i as u16))).collect();
        keyed.sort_by_key(|&(key, _)| key);
        keyed.into_iter().map(|(_, seq)| seq).collect()
    }

    proptest! {
        #[test]
        fn jitter_within_depth_loses_nothing(
            start in any::<u16>(),
            depth in 0usize..8,
            raw_delays in proptest::collection::vec(0usize..8, 1..200),
        ) {
            let delays: Vec<usize> = raw_delays.iter().map(|d| d % (depth + 1)).collect();
            let arrivals = jittered(start, &delays);
            let out = run(depth, &arrivals);
            let expected: Vec<u16> = (0..delays.len()).map(|i| start.wrapping_add(i as u16)).collect();
            prop_assert_eq!(seqs(&out), expected);
            prop_assert!(out.iter().all(|r| r.lost_before == 0));
        }

        #[test]
        fn duplicates_change_nothing(
            start in any::<u16>(),
            raw_delays in proptest::collection::vec(0usize..4, 1..100),
            copies in proptest::collection::vec(1usize..4, 100),
        ) {
            let arrivals = jittered(start, &raw_delays);
            let duplicated: Vec<u16> = arrivals
                .iter()
                .zip(&copies)
                .flat_map(|(&seq, &n)| std::iter::repeat_n(seq, n))
                .collect();
            prop_assert_eq!(seqs(&run(4, &duplicated)), seqs(&run(4, &arrivals)));
        }

        #[test]
        fn anything_comes_out_in_order_once(
            start in any::<u16>(),
            depth in 0usize..6,
            offsets in proptest::collection::vec(0u16..300, 1..200),
        ) {
            // Arbitrary arrivals near `start`: reordered, duplicated, with gaps.
            let arrivals: Vec<u16> = offsets.iter().map(|&o| start.wrapping_add(o)).collect();
            let out = run(depth, &arrivals);
            for pair in out.windows(2) {
                let step = pair[1].seq.wrapping_sub(pair[0].seq);
                prop_assert!((1..32_768).contains(&step), "{} then {}", pair[0].seq, pair[1].seq);
                prop_assert_eq!(u64::from(step) - 1, pair[1].lost_before);
            }
            let mut unique = seqs(&out);
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), out.len());
            prop_assert!(out.iter().all(|r| arrivals.contains(&r.seq)));
        }

        #[test]
        fn drops_without_reordering_are_counted(
            start in any::<u16>(),
            kept in proptest::collection::vec(any::<bool>(), 1..300),
        ) {
            let arrivals: Vec<u16> = kept
                .iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(|(i, _)| start.wrapping_add(i as u16))
                .collect();
            prop_assume!(!arrivals.is_empty());
            let out = run(3, &arrivals);
            prop_assert_eq!(seqs(&out), arrivals.clone());
            let lost: u64 = out.iter().map(|r| r.lost_before).sum();
            let first = kept.iter().position(|&k| k).unwrap_or(0);
            let last = kept.iter().rposition(|&k| k).unwrap_or(0);
            let expected = kept[first..=last].iter().filter(|&&k| !k).count() as u64;
            prop_assert_eq!(lost, expected);
        }
    }
}
