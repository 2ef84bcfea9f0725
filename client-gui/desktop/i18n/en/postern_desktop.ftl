# Postern desktop window: English (the fallback language).
# Every id here must exist in every other language with the same
# variables (the test `i18n::tests::every_language_has_every_message`).
# Screen-reader names ("Connect { $host }") are what the tests find
# widgets by: change them together with the tests.

## Languages (Settings)

language-system = The system's language

## Top bar, empty state, drop overlay

drop-to-import = Drop the profile file to import it
top-settings = Settings
top-settings-hover = Decoys, address family, theme, language, where files live
top-add-host = Add host…
top-add-host-hover = Type in a server by hand ({ $shortcut })
top-import = Import profile…
top-import-hover = Open a .postern file from your administrator ({ $shortcut }), or drop it on the window
banner-dismiss = Dismiss
banner-undo = Undo
empty-title = No servers yet
empty-intro = Postern opens a hidden door on a server (for Remote Desktop, SSH or a web page) by knocking on it the right way. Add a server in one of two ways:
empty-import = Import a profile file…
empty-import-help = Open the .postern file your administrator sent you, or drop it on this window.
empty-add = Add host by hand…
empty-add-help = Type in the address and the knock sequence or key you were given.

## Host card

card-cancel = Cancel
card-cancel-name = Cancel knock { $host }
card-connect = Connect
card-connect-name = Connect { $host }
card-connect-hover-open = The door is open: start the { $program }
card-connect-hover-closed = Open the door, check that it opened, then start the { $program }
card-open = Open
card-open-name = Open { $host }
card-open-hover = Open the door and check that it opened
card-more = More…
card-more-name = More for { $host }
card-knock-only = Open the door only
card-knock-only-name = Knock only { $host }
card-knock-only-hover = Knock and check, without starting a program
card-edit = Edit…
card-edit-name = Edit { $host }
card-remove = Remove…
card-remove-name = Remove { $host }
card-keep-open = Keep the door open while connected
card-keep-open-name = Keep open while connected { $host }
card-keep-open-hover = Knock again shortly before the door closes, for as long as the program Connect started runs (for Remote Desktop sessions that reconnect)
card-keeping-open = Keeping the door open while your connection runs
details = Details
details-server = Server: { $host }
details-ports = Ports: { $ports }, open for { $duration } after each knock
details-knock = Knock: { $method }
details-opens-for-any = Opens for: whichever address knocks
details-signed = From your administrator (key { $fingerprint })
details-unsigned = Added by hand or from an unsigned file
details-last = Last result: { $result } ({ $ago })
method-spa = one encrypted packet (SPA)
method-static-sequence = a fixed sequence of ports
method-dynamic-sequence = a sequence that changes every minute
method-syn-token = a connection attempt with a hidden token
method-syn-token-keyed = a connection attempt with a keyed hidden token

## Activity log

activity = Activity
activity-empty = No knocks yet.
activity-copy = Copy log
activity-copy-hover = Copy the whole log, e.g. to send it to your administrator

## Knock progress (state.rs Phase)

phase-starting = Starting…
phase-checking-before = Checking the port before knocking…
phase-sending = Sending packet { $sent } of { $total }
phase-verifying = Verifying that the port opened…
phase-reknocking = Still closed; knocking once more…
phase-checking-clock = Still closed; checking this computer's clock…

## Times and durations

ago-now = just now
ago-minutes = { $n } min ago
ago-hours = { $n } h ago
ago-days = { $n } days ago
# How far off this computer's clock is: "10 minutes behind".
clock-off = { $unit ->
        [seconds] { $n ->
            [one] { $n } second
           *[other] { $n } seconds
        }
        [minutes] { $n ->
            [one] { $n } minute
           *[other] { $n } minutes
        }
        [hours] { $n ->
            [one] { $n } hour
           *[other] { $n } hours
        }
       *[days] { $n ->
            [one] { $n } day
           *[other] { $n } days
        }
    } { $way ->
        [ahead] ahead
       *[behind] behind
    }
duration-s = { $s } s
duration-min = { $min } min
duration-min-s = { $min } min { $s } s
duration-h = { $h } h
duration-h-min = { $h } h { $min } min

## What the card says about the door (status.rs)

status-closed = Closed
status-open-for = Open for you for { $duration } — connect now
status-closed-again = Closed again
status-answered-before = The server was already answering before the knock
status-sent = Knock sent
status-did-not-open = The server did not open
status-clock-wrong = Your computer's clock is { $clock }
status-offline = This computer seems to be offline
status-name-not-found = The server's name could not be found
status-own-address-unknown = Could not find out this computer's internet address
status-needs-permission = Your computer did not let Postern send the knock
status-profile-problem = This server's settings cannot be used as they are
status-other = The knock did not work
status-cancelled = Cancelled
hint-closed-again = Connections you opened stay up; open it again to start a new one.
hint-answered-before = It may still be open from your last knock. If not, the port is not protected, or a proxy on your network answers for every server: if connecting fails, try another network.
hint-sent = This server has no port Postern can check; try connecting.
hint-did-not-open = Check that you are online and that this computer's clock is right, then try again. If it still does not open, ask your administrator.
hint-did-not-open-clock-right = Your clock is right. Check that you are online, then try again. If it still does not open, ask your administrator: your profile may be out of date.
hint-clock-wrong = The server refuses knocks from a clock that far off. Set the right date and time on this computer (turning on automatic time fixes it for good), then try again.
hint-offline = Check your network connection, then try again.
hint-name-not-found = Check that you are online. If it keeps happening, ask your administrator.
hint-own-address-unknown = Check that you are online, or try another network. If it keeps happening, ask your administrator.
hint-needs-permission = Start Postern as administrator, or ask your administrator for a profile that needs no special rights.
hint-profile-problem = Ask your administrator for a new profile file.
hint-other = Try again. If it keeps happening, copy the activity log and send it to your administrator.

## Results in the log (settings.rs Outcome)

# $reknocked is "yes" or "no"; $address is empty or the bound address.
outcome-open = Open after { $ms } ms{ $reknocked ->
        [yes] {" "}(after a second knock)
       *[no] {""}
    }{ $address ->
        [none] {""}
       *[other] {" "}for { $address }
    }
outcome-still-closed = Still closed{ $reknocked ->
        [yes] , even after a second knock
       *[no] {""}
    }. Check that this computer's clock is right and that the profile is current; then knock again or ask your administrator
outcome-still-closed-clock-wrong = Still closed{ $reknocked ->
        [yes] , even after a second knock
       *[no] {""}
    }. This computer's clock is { $clock }: set the right time, then knock again
outcome-answered-before = Knocked, but the port was already answering before the knock, so it is not known whether the knock worked. It may still be open from your last knock, the port may not be protected, or a proxy on your network answers every connection; if connecting fails, try another network
outcome-sent = Sent { $packets } packets{ $address ->
        [none] {""}
       *[other] {" "}for { $address }
    }; this host has no TCP port to check
outcome-failed = Failed: { $message }
outcome-cancelled = Cancelled

## Settings dialog

settings-title = Settings
settings-decoys = Decoy packets per knock
settings-decoys-hint = empty: as each profile says
settings-decoys-problem = a number from 0 to 64, or empty to use each profile's own
settings-decoys-help = Decoys are random packets that hide the real knock from onlookers.
settings-ip = Address family
ip-profile = As the profile says
ip-v4 = IPv4 only
ip-v6 = IPv6 only
ip-both = Both IPv4 and IPv6
settings-allow = Address the server should let in (single-packet hosts only)
allow-profile = As the profile says
allow-source = The address I knock from
allow-explicit = A fixed address
allow-url = Ask a web service (behind NAT)
allow-explicit-problem = enter an IPv4 or IPv6 address, e.g. 203.0.113.7
allow-url-problem = the service must be an https:// address
settings-fixed-address = Fixed address
settings-address-service = Address service
settings-stun = STUN servers
settings-check-clock = Check this computer's clock when a server does not open
settings-check-clock-help = Asks a public time server (time.cloudflare.com, pool.ntp.org), only after a knock failed, so that a wrong clock can be named as the reason.
settings-stun-help = They tell this computer its public address when it is behind a home or office router, for hosts whose profile names none. Separate several with commas.
stun-not-host-port = "{ $entry }" is not HOST:PORT (for example stun.example.org:3478)
stun-too-many = at most { $max } servers
settings-theme = Theme
theme-system = Follow the system
theme-light = Light
theme-dark = Dark
settings-language = Language
settings-where = Where things are kept
settings-hosts-dir = Hosts and settings: { $dir }
settings-keys = Keys: { $store }
settings-keys-unavailable = unavailable: { $error }
settings-keys-no-keyring = { $store } — no OS keyring works on this computer
settings-bad-decoys = Decoy packets: { $problem }
settings-bad-allow = Allowed address: { $problem }
settings-bad-stun = STUN servers: { $problem }
settings-not-saved = Settings were not saved: { $error }
settings-saved = Settings saved

## Dialog buttons

button-save = Save
button-cancel = Cancel
button-close = Close

## Remove

remove-title = Remove { $host }?
remove-body = Its saved settings and its key are removed from this computer. You can undo this until you close Postern.
remove-confirm = Remove
remove-keep = Keep

## Host form (form.rs, dialogs.rs)

form-edit-title = Edit host
form-add-title = Add host by hand
form-name = Name
form-name-hint = Office PC
form-address = Server address
form-address-hint = office.example.com or 203.0.113.7
form-how = How to knock
form-method-sequence = Knock sequence (knockd)
form-method-spa = Single packet (SPA) with a key
form-method-fwknop = fwknop (fwknopd server)
form-fwknop-hmac-key = HMAC key
form-fwknop-user = User name (fwknop -U)
form-fwknop-keep = {" "}(leave both empty to keep the saved keys)
form-fwknop-key-hint = as fwknop --key-gen printed it
form-fwknop-sha512 = HMAC_DIGEST_TYPE is SHA512 (not SHA256)
form-fwknop-port = fwknopd port
form-fwknop-key-missing = paste KEY_BASE64 (fwknop --key-gen prints it)
form-fwknop-hmac-missing = paste HMAC_KEY_BASE64 (fwknop --key-gen prints it)
form-fwknop-keys-bad = { $error }; paste the lines fwknop --key-gen printed
method-fwknop = one fwknop packet (for an fwknopd server)
form-sequence = Knock sequence
form-delay = Pause between knocks (ms)
form-spa-user = User name
form-key-keep = Key (leave empty to keep the saved key)
form-key-paste = Key (paste it)
form-key-hint = 44 characters from your administrator
form-key = Key
form-spa-port = SPA port
form-server-id = Server id
form-server-id-hint = 32 hex digits
form-door-port = Port to open
form-door-port-hint = 3389 for Remote Desktop, 22 for SSH
form-door-udp = The port is UDP (not TCP)
form-then-start = After the port opens, start
form-connect-user = User name to connect as (optional)
form-web-address = Web address
form-missing = To save, fill in: { $fields }
connect-nothing = Nothing (just open the port)
connect-rdp = Remote Desktop (RDP)
connect-ssh = SSH terminal
connect-url = Web page (URL)
error-port-range = a port is a number from 1 to 65535
error-port-empty = enter a port number, e.g. 22
error-port-digits = a port is a number from 1 to 65535 (digits only)
error-address-empty = enter the server's name or address, e.g. office.example.com
error-host-too-long = a host name is at most 253 characters
error-host-label-length = a host name is dot-separated parts of 1 to 63 characters
error-host-hyphen = a part of a host name cannot start or end with '-'
error-host-chars = use letters, digits, '-' and '.' (or an IP address like 192.0.2.10)
error-user = 1 to 64 letters, digits, '.', '_' or '-'
error-name-empty = give the host a name, e.g. Office PC
error-name-long = at most 80 characters
error-name-alnum = the name needs at least one letter or digit
error-sequence = { $problem }; write it like 7000,8000:udp,9000
error-delay = a pause from 0 to 10000 milliseconds
error-server-id = the server id is 32 hex digits (your administrator has it)
error-key-empty = paste the key your administrator gave you
error-key-bad = this is not a key: expected 44 characters of base64
error-url = a web address starts with https:// or http://
error-connect-user = a user name uses letters, digits, '.', '_' or '-'
error-form = some fields need fixing (see the messages under them)

## Import (dialogs.rs, import_flow.rs)

import-file-title = Import a Postern profile
import-file-filter = Postern profile
import-file-all = All files
import-encrypted-title = Encrypted profile
import-encrypted-body = { $file } is locked with a passphrase. Your administrator gives it to you apart from the file (by phone or in person); it is usually a few words with spaces between them.
import-encrypted-after = After it opens, you will check who signed it before anything is saved.
import-passphrase = Passphrase
import-show-passphrase = Show the passphrase
import-button = Import
import-trust-title = Trust this administrator?
import-passphrase-right = The passphrase was right. One more check before importing:
import-trust-body = "{ $profile }" is signed by an administrator key this computer has not seen before. Its fingerprint is:
import-trust-compare = Compare it with the fingerprint your administrator gave you (by phone or in person). Only if they match, trust it. Later profiles for this server must be signed by the same key.
import-trust-server = Server { $server }
import-trust-yes = Trust and import
import-no = Don't import
import-unsigned-title = This profile is not signed
import-unsigned-body = Anyone could have written "{ $profile }". Import it only if you know exactly where it came from.
import-anyway = Import anyway
import-refused-title = Profile refused
import-refused-source = { $file }:
import-nothing-changed = Nothing was changed.
import-too-large = { $file } is too large to be a profile ({ $bytes } bytes); nothing changed
import-cannot-read = cannot read { $path }: { $error }
import-not-text = { $file } is not a profile (not a text file); nothing changed
import-lost-question = internal: lost the question
import-no-secret-store = no secret store
import-not-signed = not signed
import-signed-by = signed by { $fingerprint }
import-done = Imported { $name } ({ $who })
import-up-to-date = { $name } is up to date ({ $who }); nothing changed
import-updated = Updated { $name } ({ $who }): { $changes }
import-wrong-passphrase = Wrong passphrase (or the file was changed); nothing was saved. Try again.
import-unsigned-for-signed = Refused: this profile is not signed, but the profiles for this server are signed by your administrator. It may be forged. Nothing changed.
import-refused = Refused: { $reason }
import-not-trusted = Not imported: the signer was not trusted. Nothing changed.

## Banners from the controller (commands.rs)

banner-log-not-saved = could not save the activity log: { $error }
knock-key-missing = the key for this host is not in the keyring; import its profile again (or edit the host and paste the key)
knock-cannot-start = could not start the knock: { $error }
connect-no-program = { $host } has no program to start: the port is open, connect with your usual program
connect-failed = Could not connect to { $host }: { $error }
host-exists = A host called "{ $name }" already exists; choose another name
key-not-saved = The key could not be saved: { $error }
host-saved = Saved { $name }
remove-key-unreadable = Not removed: could not read its key first: { $error }
remove-key-stayed = Removed { $name }, but its key stayed in the keyring: { $error }
removed = Removed { $name }.
undo-key-failed = Could not put back { $name }'s key: { $error }
undo-failed = Could not put back { $name }: { $error }
undo-done = { $name } is back.

## Starting a program (launch.rs)

program-rdp = Remote Desktop
program-ssh = SSH
program-url = web page
launch-started = Started { $program }
launch-not-available = connecting is not available here
launch-bad-url = will not open "{ $url }": only plain http:// and https:// addresses
launch-no-browser = no program to open web pages was found (xdg-open). Open { $url } in your browser
launch-bad-chars = the host or user name has characters a connection cannot use
launch-no-rdp = no Remote Desktop program was found. Install Remmina or FreeRDP (e.g. `sudo apt install remmina`), then connect to { $target }
launch-no-terminal = no terminal program was found. Open a terminal and run: ssh -p { $port } { $dest }
launch-cannot-start = could not start { $program }: { $error }
window-error = cannot open the window: { $error }
list-and = { $first } and { $second }
