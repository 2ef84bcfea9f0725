//! Passphrases for sealed profiles (`user add/rotate --seal`): words a
//! person can read over the phone, so the file and its passphrase can
//! travel by different channels.
//!
//! The words come from the EFF long list (7776 = 6⁵ words, chosen to be
//! easy to spell and hear apart), picked uniformly by the system's CSPRNG.
//! Each word is log2(7776) ≈ 12.925 bits, so [`WORDS`] = 6 words give
//! 6 × 12.925 ≈ 77.5 bits, at least the 77 bits we want for a file that
//! may sit in a mailbox for years. Argon2id (shared/src/seal.rs) makes
//! each guess cost ~19 MiB of memory on top of that.

use diceware_wordlists::Wordlist;
use zeroize::Zeroizing;

/// Words per passphrase; see the module comment for the arithmetic.
pub const WORDS: usize = 6;

/// A fresh passphrase: [`WORDS`] lowercase words separated by spaces.
pub fn generate(rng: &mut impl rand::Rng) -> Zeroizing<String> {
    let list = Wordlist::EffLong.get_list();
    let words: Vec<&str> = (0..WORDS)
        .map(|_| list[rng.random_range(0..list.len())])
        .collect();
    Zeroizing::new(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The doc comment's arithmetic, checked against the list we ship.
    #[test]
    fn six_eff_words_are_at_least_77_bits() {
        let list = Wordlist::EffLong.get_list();
        assert_eq!(list.len(), 7776);
        let bits = WORDS as f64 * (list.len() as f64).log2();
        assert!(bits >= 77.0, "{bits}");
        // Distinct words: a duplicate would lower the entropy.
        let set: std::collections::HashSet<_> = list.iter().collect();
        assert_eq!(set.len(), list.len());
    }

    #[test]
    fn passphrases_are_six_listed_words() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let p = generate(&mut rng);
        let words: Vec<&str> = p.split(' ').collect();
        assert_eq!(words.len(), WORDS);
        let list = Wordlist::EffLong.get_list();
        assert!(words.iter().all(|w| list.contains(w)), "{}", p.as_str());
        assert_ne!(generate(&mut rng).as_str(), p.as_str());
    }
}
