#!/usr/bin/env bash
# postern-proto must stay pure, and its modules must stay layered.
#
# 1. No crate in its normal dependency tree may do network, file, process or
#    OS-clock I/O — with default features and with every feature (the test
#    fixtures must not bring any either). This lists the tree and fails on
#    any crate known for I/O.
# 2. Each module under shared/src/ names only the modules below it (the layer
#    table below), so the wire codec depends on nothing above it and no two
#    modules import each other. A new module fails the check until it is
#    given its place in the table.
set -euo pipefail
cd "$(dirname "$0")/.."

forbidden='^(tokio|mio|socket2|pnet.*|libc|nix|reqwest|ureq|hyper|std-fs|tempfile|directories|dirs|keyring.*|getrandom|rand_core_os|windows.*|winapi|walkdir|notify|sys-locale|i18n-embed.*|rust-embed.*)$'
for features in "" "--all-features"; do
    # shellcheck disable=SC2086 # $features is one flag or nothing
    tree=$(cargo tree -p postern-proto -e normal $features --prefix none --format '{p}' | awk '{print $1}' | sort -u)
    bad=$(echo "$tree" | grep -E "$forbidden" || true)
    if [ -n "$bad" ]; then
        echo "postern-proto ${features:-(default features)} depends on I/O crates:" >&2
        echo "$bad" >&2
        # shellcheck disable=SC2086
        cargo tree -p postern-proto -e normal $features -i "$(echo "$bad" | head -1)" >&2 || true
        exit 1
    fi
    echo "postern-proto ${features:-(default features)}: $(echo "$tree" | wc -l) crates, none doing I/O"
done

# The test fixtures (published keys, seeded nonces) may be turned on by
# dev-dependencies only: no normal or build dependency of any workspace
# crate, on any target, may enable them.
users=$(cargo tree --workspace -e normal,build,features --target all -i postern-proto)
if echo "$users" | grep -q 'postern-proto feature "fixtures"'; then
    echo "postern-proto's test fixtures are enabled in a production build:" >&2
    echo "$users" >&2
    exit 1
fi
echo "postern-proto: no production build enables the test fixtures"

# Module -> the crate modules it may name (its own is always allowed; `*`
# means any). Lower layers first. Names re-exported at the crate root
# (`crate::UserKey`) count as the module they come from, read from lib.rs.
layers='
wire:
time:
keys:
seal:
replay: time
method: wire keys time replay
packet:
decoy: packet method wire keys time replay
profile: method wire keys time replay
keyid: method wire keys time replay
sign: profile method wire keys time replay
plan: decoy packet profile method wire keys time replay
fixtures: *
'

LAYERS="$layers" perl -e '
use strict;
use warnings;

my $src = "shared/src";
my (%allow, @errors);
for (split /\n/, $ENV{LAYERS}) {
    next unless /^\s*(\w+):\s*(.*?)\s*$/;
    $allow{$1} = { map { $_ => 1 } $1, split /\s+/, $2 };
}

sub slurp { open my $f, "<", $_[0] or die "$_[0]: $!"; local $/; <$f> }

# Comments may mention any module; only code counts. Newlines are kept so
# that offsets still give line numbers.
sub code_of {
    my $t = slurp($_[0]);
    $t =~ s{/\*.*?\*/}{ my $c = $&; $c =~ tr/\n//cd; $c }gse;
    $t =~ s{//[^\n]*}{}g;
    return $t;
}

# Top-level modules, and root re-exports mapped to their module.
opendir my $d, $src or die "$src: $!";
my %module;
for (readdir $d) {
    next if /^\./ || $_ eq "lib.rs";
    $module{$1} = $1 if /^(\w+)\.rs$/;
    $module{$_} = $_ if -d "$src/$_";
}
closedir $d;
my $lib = code_of("$src/lib.rs");
while ($lib =~ /pub\s+use\s+(\w+)\s*::\s*(\{[^}]*\}|\w+)\s*;/g) {
    my ($m, $items) = ($1, $2);
    $module{$_} = $m for $items =~ /(\w+)/g;
}

for my $m (sort grep { $module{$_} eq $_ } keys %module) {
    push @errors, "$src: module `$m` has no place in the layer table of scripts/check-proto-deps.sh"
        unless $allow{$m};
}

# First path segments of a use tree: `x::y` gives x, `{a::b, c}` gives a, c.
sub heads {
    my ($text, $pos) = @_;
    pos($text) = $pos;
    return ($1) if $text =~ /\G\s*(\w+)/gc;
    return () unless $text =~ /\G\s*\{/gc;
    my ($depth, $expect, @out) = (1, 1);
    while ($depth > 0 && pos($text) < length $text) {
        if ($text =~ /\G\s*(\w+)/gc) { push @out, $1 if $expect && $depth == 1; $expect = 0; }
        elsif ($text =~ /\G\s*\{/gc) { $depth++; }
        elsif ($text =~ /\G\s*\}/gc) { $depth--; }
        elsif ($text =~ /\G\s*,/gc) { $expect = 1 if $depth == 1; }
        else { $text =~ /\G./gcs; }
    }
    return @out;
}

my @files = split /\n/, `find $src -name "*.rs" ! -path "$src/lib.rs" | sort`;
for my $file (@files) {
    (my $rel = $file) =~ s{^\Q$src\E/}{};
    my @path = split m{/}, $rel;
    $path[-1] =~ s/\.rs$//;
    pop @path if $path[-1] eq "mod";
    my $me = $path[0];
    my $ok = $allow{$me} or next;    # already reported above
    next if $ok->{"*"};
    my $code = code_of($file);
    # `crate::x` and `super::…::x` that climbs to the crate root. (Inside an
    # inline `mod tests` one super less is needed; names that are not
    # top-level modules are ignored, so that only misses nothing real.)
    while ($code =~ /(?<![\$\w:])(crate|super(?:\s*::\s*super)*)\s*::/g) {
        my ($how, $end, $at) = ($1, pos($code), $-[0]);
        if ($how ne "crate") {
            my $ups = () = $how =~ /super/g;
            next if $ups < @path;
        }
        my $line = 1 + (substr($code, 0, $at) =~ tr/\n//);
        for my $name (heads($code, $end)) {
            my $target = $module{$name} or next;
            next if $ok->{$target};
            push @errors, "$file:$line: `$me` may not name crate::$target"
                . " (allowed: " . (join(" ", sort grep { $_ ne $me } keys %$ok) || "nothing") . ")";
        }
        pos($code) = $end;
    }
}

if (@errors) {
    print STDERR "postern-proto layering broken:\n", map("  $_\n", @errors);
    print STDERR "Each module may name only the modules below it (scripts/check-proto-deps.sh).\n";
    exit 1;
}
print "postern-proto: ", scalar(@files), " files keep to the layer table\n";
'
