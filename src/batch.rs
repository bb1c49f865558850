//! Taking work in batches, for the group commits (webhook ingest, push
//! bookkeeping, job completions) and the bulk creates.

/// `first` and whatever else is ready now (`next` until it has nothing), up
/// to `max` in all. Never waits to fill a batch: a lone item goes at once.
pub fn with_ready<T>(first: T, max: usize, mut next: impl FnMut() -> Option<T>) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < max {
        match next() {
            Some(item) => batch.push(item),
            None => break,
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::with_ready;

    #[test]
    fn takes_what_is_ready_up_to_the_limit_and_leaves_the_rest() {
        let mut ready = vec![2, 3, 4, 5].into_iter();
        assert_eq!(with_ready(1, 3, || ready.next()), [1, 2, 3]);
        assert_eq!(ready.next(), Some(4), "the rest waits for the next batch");
        assert_eq!(with_ready(9, 50, || None::<i32>), [9], "a lone item goes at once");
    }
}
