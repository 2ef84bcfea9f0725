//! Packets captured once from Debian's fwknop client 2.6.10 (package
//! fwknop-client 2.6.10-16) with `fwknop … --no-rc-file -U alice -T -B FILE
//! --verbose` and the keys below (printed by `fwknop --key-gen`), so the
//! codec is checked against the real thing (protocol.md §11.5). Compiled
//! for this crate's tests and for the `fixtures` feature (which re-exports
//! them as `fixtures::fwknop`), never into production builds.

pub const KEY_B64: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
pub const HMAC_B64: &str =
    "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";
/// `fwknop -A tcp/22 -a 198.18.0.2`.
pub const ACCESS: &str = "9NPF1MhZfMCeT4wk1dGHu5I7zevfPEKqw6NK5JRI1ifv0DjffWOuO1bwmTEhi0/3yH+skdNQ/y7YDpJwuiGhYVJwCOKhlYGWnF2LmDppTZ15v4GCPGmkvM77KoSiDkCiQGaZu9hBfN20naj4LUeHkeKWgEYeQZ6cAazu76LhqzisX8Qmi5ijFGXjvhoBQ2TieQc/HOSdj6/M";
/// `fwknop -A tcp/22,udp/53 -a 198.18.0.2 -f 45` (client timeout, type 3).
pub const TIMEOUT: &str = "8CtQE+zQpgmgf3IGG95C7cHM8Rd4eAHFtrmdrtYvCaz6cZIBMKB+IMg08XoFc/IpPIJspH1r884O/CKAkI4L6gyA9uTwf5O8LGvh/rmApIif8/aOx7HEu+ms0u7MGE0Ma1y8Vfrj0O859zoFORNpykbjg145QFkzxOThDNcRtBcwDKhpS9sIx9i93NWR7O3vPBr04z2b5rw2Dk5hW8Ek7em7eqQg+0TXs";
/// `fwknop --server-cmd 'echo hi' -a 198.18.0.2` (a command message).
pub const COMMAND: &str = "/C2ZYtVcjCyZZSXJPyThzWdevXJ1Vxbh+/JKxOqKSznc/7GiGw1FBXXdokMU73oUUPOhHWz/GhKVQbYndQNhYaxfVNS+0q0XM5oO+0FZdZCQVJry+mPKRrgWfSnhcGJ0WDk3BfZJoRCa+dPTIt5TBbC2juXQgZ+8e1k+HVi7BJmGlm1AHHTa1sC5I3i4vzUVmiAhn3UsFeoFHUytIgFWgcJF8pfUHtuiw";
/// `fwknop -A tcp/22 -a 198.18.0.2 --hmac-digest-type sha512`.
pub const SHA512_HMAC: &str = "/6qsboL5gK9hiZm1yPs29PmyH23mdyvOJOejVlxyNEXdh1GT3y7bxRogFOUm64Kw/AuIOxchfwrcSR9urPtBhSykGi/2Vmn0Ig6JOg9qJVZT2V/K/W+PGfggtoT6RRoszHdqTkL5MnOvW9NgyHQHPvRijj20Z07yICMTA+d+3stAoaXghUXNRv9KtymWbzf6baEK0mtEhq+fQvs7ps6EUUk+FpYz3Dgs7PPyHIiDiPSZQC6WEkO7mQw";
