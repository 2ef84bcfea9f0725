# The `postern` command line's messages in English.
#
# Scripts and tests parse this output (`open after`, `bound to`,
# `knocked "…"`, `saved "…"`): change a message only together with them.
# Names arrive quoted already ("Office PC"). What the library adds after
# these words (its error messages, a method's name, a door like 22/tcp)
# stays English in every language.

## Errors: `postern: what went wrong[. what to do]`

error-line = postern: { $error }
error-line-hint = postern: { $error }. { $hint }

## What to do about an error (src/wording.rs)

hint-unknown-signer = Compare the fingerprint with your administrator, then import again on a terminal to confirm, or add --yes
hint-unsigned = Import it with --yes only if you know where it came from
hint-name-taken = `postern remove { $name }` does
hint-drop-strict = Or drop --strict
hint-passphrase = Give its passphrase with --passphrase-file FILE, or run postern in a terminal to be asked for it
hint-list = `postern list` shows the saved hosts
warning-secrets-in-file = postern: WARNING: { $fallback }. Use --strict to refuse this.

## Files and passphrases

cannot-read = cannot read { $path }
cannot-read-passphrase-file = cannot read the passphrase file { $path }
passphrase-prompt = Passphrase for { $what }:{" "}
reading-passphrase = reading the passphrase from the terminal
encrypted = { $what } is encrypted. { hint-passphrase }

## postern list

list-empty = no saved hosts; add one with `postern import FILE`
list-unsigned = unsigned
list-signed = signed { $fingerprint }
list-opens-for-this-computer = opens for this computer's address
list-opens-for-any = opens for whichever address knocks

## postern import: trusting a signer

trust-new-signer =
    postern: { $name } is signed by an administrator key new to this computer:

    {"    "}{ $fingerprint }

    Compare this fingerprint with the one your administrator gave you.
trust-unsigned = postern: { $name } is NOT signed: anyone could have written it.
trust-yes = postern: trusting it (--yes)
# The answers that confirm are in the code: yes, y (and in Spanish sí, si, s).
trust-prompt = Trust it for server { $server }? Type yes to confirm:{" "}

## postern import, remove, import-knockd-door, import-fwknoprc

import-failed = cannot import { $file }
import-unsigned = unsigned
import-signed-by = signed by { $fingerprint }
import-done = imported { $name } ({ $signer })
import-up-to-date = { $name } is up to date ({ $signer }); nothing changed
import-updated = updated { $name } ({ $signer }): { $changes }
import-key-kept = its key is kept in { $store }
remove-not-found = no saved host is called { $name }; { hint-list }
removed = removed { $name }
knockd-saved = saved { $name }: knocks { $sequence } on { $host } to open { $door }
fwknoprc-nothing-saved-from = { $file }: nothing was saved
fwknoprc-nothing-saved = nothing was saved
fwknoprc-saved = saved { $name }: fwknop to { $host } for { $doors } ({ $allow })
fwknoprc-skipped = skipped [{ $stanza }]: { $why }
fwknoprc-not-carried = [{ $stanza }]: { $option } not carried over
allow-source = lets in the packet's source
allow-explicit = lets in { $address }
allow-url = lets in the address { $url } reports
allow-auto = lets in this computer's address (found at knock time)

## postern without a command: the desktop window

desktop-cannot-start =
    postern: { $error }
    (the commands work without it: postern --help)
desktop-not-installed = the desktop app is not installed: no { $program } beside postern or on PATH
desktop-starting = starting { $program }

## postern knock: finding the profile and its key

knock-no-saved-host = no saved host called { $name }; { hint-list }
knock-no-saved-host-but-file = no saved host called { $name }; to knock the file of that name, write ./{ $file }; { hint-list }
knock-cannot-decrypt = cannot decrypt { $file }
knock-refusing = refusing { $file }
knock-no-key = the key for { $name } is not in the keyring; import its profile again
knock-no-fwknop-keys = the fwknop keys for { $name } are not in the keyring; add the host again
knock-stored-key-refused = refusing { $file }: it carries no key and is not signed by the administrator trusted for its server, so the key saved for { $name } is not used with it; knock the saved host by its name, or import a signed profile
knock-other-signer = refusing { $file }: it is signed by { $signer }, but this server's trusted administrator key is { $trusted }

## postern knock: progress (on stderr)

knock-knocking = postern: knocking { $name } at { $addresses } ({ $method })
# Joins the addresses a knock goes to: "198.18.0.1 and fd00::1".
knock-and = { $first } and { $second }
knock-progress = postern: sent { $index }/{ $total }
knock-checking-before = postern: checking whether { $address } answers before the knock
knock-waiting = postern: waiting for { $address } to open
knock-reknocking = postern: still closed; knocking once more

## postern knock: the outcome (on stdout)

knock-bound = bound to { $address } ({ $by })
knock-bound-none = bound to no address: opens for whichever address knocks
bound-by-own-address = this computer's own address
bound-by-same-network = this computer's address on the server's network
bound-by-stun = public address reported by STUN ({ $servers })
bound-by-explicit = fixed address from the profile
bound-by-url = public address reported by { $url }
knock-sent = knocked { $name }: { $packets } packets sent
knock-verdict = { $name }: { $verdict }
# The engine's verdicts; the English is exactly what the library's
# Verdict::message() says (a test checks it).
verdict-open = open after { $ms } ms{ $reknocked ->
        [yes] {" "}(after a second knock)
       *[no] {""}
    }
verdict-still-closed = still closed{ $reknocked ->
        [yes] , also after a second knock
       *[no] {""}
    } — check that your clock is right and your profile is current
verdict-answered-before = knocked, but the port was already answering before the knock, so this cannot tell whether the knock worked: it may still be open from your last knock, the port may not be protected, or a proxy on your network answers every connection (if connecting fails, try another network)
verdict-no-tcp-door = sent; this profile has no TCP port to check

## postern knock: a knock that failed, in plain words before the technical error

failure-offline = postern: This computer seems to be offline. Check your network connection, then try again.
failure-name-not-found = postern: The server's name could not be found. Check that you are online; if it keeps happening, ask your administrator.
failure-own-address-unknown = postern: Could not find out this computer's internet address. Check that you are online, or try another network; if it keeps happening, ask your administrator.
failure-needs-permission = postern: Your computer did not let postern send the knock. Run it as administrator (root), or ask your administrator for a profile that needs no special rights.
failure-profile-problem = postern: This server's settings cannot be used as they are. Ask your administrator for a new profile file.
failure-other = postern: The knock did not work. Try again; if it keeps happening, send the message below to your administrator.

## `postern --help`: the program's and each command's description (English:
## the doc comments of src/args.rs, word for word)

about-postern = Knock to open a port in a firewall (port knocking and single-packet authorization).
about-no-command = Without a command, postern opens its desktop window.
about-knock = Knock a saved host (by name) or a profile file
about-list = List saved hosts
about-import = Import a signed (optionally encrypted) .postern profile
about-export = Print a saved host's profile (unsigned)
about-remove = Forget a saved host and its secret
about-import-knockd-door = Save a host guarded by knockd (a static knock sequence)
about-import-fwknoprc = Save the fwknopd servers of an fwknop client's ~/.fwknoprc as hosts (keys into the keyring); all of them or, on an error, none

## postern knock --verify: the clock check after a knock that stayed closed

knock-checking-clock = postern: asking a time server whether this computer's clock is right
clock-ahead = your computer's clock is { $span } ahead ({ $server }): set the right time (or turn on automatic time), then knock again
clock-behind = your computer's clock is { $span } behind ({ $server }): set the right time (or turn on automatic time), then knock again
clock-right = your computer's clock is right ({ $offset } s from { $server }), so it is not why
clock-unknown = could not check your computer's clock: { $why }
span-seconds = { $n ->
        [one] { $n } second
       *[other] { $n } seconds
    }
span-minutes = { $n ->
        [one] { $n } minute
       *[other] { $n } minutes
    }
span-hours = { $n ->
        [one] { $n } hour
       *[other] { $n } hours
    }
span-days = { $n ->
        [one] { $n } day
       *[other] { $n } days
    }
