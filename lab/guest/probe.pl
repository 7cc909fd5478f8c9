#!/usr/bin/perl
# ICMP echo probes from several network namespaces in one process (the machines have no ping, and one
# process per probe costs ~0.1 s each inside user-mode Linux). Uses only perl-base.
#
#   probe.pl [TIMEOUT_S [INTERVAL_S]] < probes
#
# One probe per input line: `ID NETNS SRC DST` (NETNS and SRC may be `-`: this process's namespace, the
# kernel's source address choice). A raw socket is opened inside each named namespace (setns(2), then
# back), bound to SRC, and an echo request is sent every INTERVAL_S until the first reply or TIMEOUT_S.
# Output, one line per probe, in input order:
#   ID<TAB>ok<TAB>RTT_MS
#   ID<TAB>fail<TAB>REASON      (timeout, unreachable, the last send error...)
# x86_64 only (syscall numbers).
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW inet_pton pack_sockaddr_in pack_sockaddr_in6);

my $timeout  = $ARGV[0] // 3;
my $interval = $ARGV[1] // 0.25;
my ($SYS_setns, $SYS_clock_gettime, $CLONE_NEWNET) = (308, 228, 0x40000000);
my ($IPPROTO_ICMP, $IPPROTO_ICMPV6) = (1, 58);

sub now {
  my $ts = "\0" x 16;
  syscall($SYS_clock_gettime, 1, $ts) == 0 or die "clock_gettime: $!";
  my ($s, $ns) = unpack('q q', $ts);
  return $s + $ns / 1e9;
}

sub setns_fd {
  my ($fd) = @_;
  return syscall($SYS_setns, $fd, $CLONE_NEWNET) == 0;
}

sub cksum {
  my ($d) = @_;
  $d .= "\0" if length($d) % 2;
  my $sum = 0;
  $sum += $_ for unpack('n*', $d);
  $sum = ($sum >> 16) + ($sum & 0xffff) while $sum >> 16;
  return ~$sum & 0xffff;
}

open(my $home, '<', '/proc/self/ns/net') or die "open /proc/self/ns/net: $!";
my @probes;
my %by_ident;
while (my $line = <STDIN>) {
  chomp $line;
  next if $line =~ /^\s*(#|$)/;
  my ($id, $ns, $src, $dst) = split /\s+/, $line;
  my $p = { id => $id, sent => 0, times => {}, err => undef, done => 0 };
  push @probes, $p;
  if (!defined $dst) { $p->{err} = 'bad probe line'; $p->{done} = 1; next; }
  $p->{ident} = ($$ * 7 + scalar(@probes)) & 0xffff;
  $by_ident{ $p->{ident} } = $p;
  my $v6 = $dst =~ /:/ ? 1 : 0;
  $p->{v6} = $v6;
  my $fam = $v6 ? AF_INET6 : AF_INET;
  my $entered = 0;
  if ($ns ne '-') {
    my $fh;
    if (!open($fh, '<', "/run/netns/$ns")) { $p->{err} = "no netns $ns"; $p->{done} = 1; next; }
    if (!setns_fd(fileno($fh))) { $p->{err} = "setns $ns: $!"; $p->{done} = 1; close $fh; next; }
    close $fh;
    $entered = 1;
  }
  my $s;
  if (!socket($s, $fam, SOCK_RAW, $v6 ? $IPPROTO_ICMPV6 : $IPPROTO_ICMP)) {
    $p->{err} = "socket: $!";
  } elsif ($src ne '-' && !defined inet_pton($fam, $src)) {
    $p->{err} = "bad source address $src";
  } elsif ($src ne '-' && !bind($s, $v6 ? pack_sockaddr_in6(0, inet_pton($fam, $src)) : pack_sockaddr_in(0, inet_pton($fam, $src)))) {
    $p->{err} = "bind $src: $!";
  } elsif (!defined inet_pton($fam, $dst)) {
    $p->{err} = "bad address $dst";
  } else {
    my $d = inet_pton($fam, $dst);
    $p->{to} = $v6 ? pack_sockaddr_in6(0, $d) : pack_sockaddr_in(0, $d);
    $p->{s} = $s;
  }
  $p->{done} = 1 if defined $p->{err};
  if ($entered && !setns_fd(fileno($home))) { die "setns back: $!"; }
}

sub send_one {
  my ($p) = @_;
  my $seq = ++$p->{sent};
  my $payload = 'openperouter-lab-probe' . ('.' x 34);
  my $type = $p->{v6} ? 128 : 8;
  my $hdr = pack('C C n n n', $type, 0, 0, $p->{ident}, $seq);
  my $pkt = $hdr . $payload;
  # The kernel computes ICMPv6 checksums itself (raw IPPROTO_ICMPV6 sockets).
  if (!$p->{v6}) { substr($pkt, 2, 2) = pack('n', cksum($pkt)); }
  $p->{times}{$seq} = now();
  if (!defined send($p->{s}, $pkt, 0, $p->{to})) { $p->{last_error} = "send: $!"; }
}

sub on_packet {
  my ($v6, $buf, $t) = @_;
  my $off = 0;
  if (!$v6) {
    return if length($buf) < 20;
    $off = (ord(substr($buf, 0, 1)) & 0x0f) * 4;
  }
  return if length($buf) < $off + 8;
  my ($type, $code, undef, $ident, $seq) = unpack('C C n n n', substr($buf, $off, 8));
  my $reply = $v6 ? 129 : 0;
  if ($type == $reply) {
    my $p = $by_ident{$ident};
    return if !$p || $p->{done} || !$p->{v6} != !$v6 || !exists $p->{times}{$seq};
    $p->{rtt} = ($t - $p->{times}{$seq}) * 1000;
    $p->{done} = 1;
    return;
  }
  # Errors quote the original packet: IPv4 header + ICMP header, or the IPv6 header (40) + ICMPv6 header.
  my $unreach = $v6 ? ($type == 1 || $type == 3) : ($type == 3 || $type == 11);
  return if !$unreach;
  my $inner = $off + 8;
  if (!$v6) {
    return if length($buf) < $inner + 20;
    $inner += (ord(substr($buf, $inner, 1)) & 0x0f) * 4;
  } else {
    $inner += 40;
  }
  return if length($buf) < $inner + 8;
  my (undef, undef, undef, $oident) = unpack('C C n n', substr($buf, $inner, 6));
  my $p = $by_ident{$oident};
  return if !$p || $p->{done};
  $p->{last_error} = ($type == 11 && !$v6) || ($type == 3 && $v6) ? "time exceeded (type $type code $code)" : "unreachable (type $type code $code)";
}

my $start = now();
my $deadline = $start + $timeout;
my $next_send = $start;
for (;;) {
  my @open = grep { !$_->{done} } @probes;
  last if !@open;
  my $t = now();
  last if $t >= $deadline;
  if ($t >= $next_send) {
    send_one($_) for @open;
    $next_send = $t + $interval;
  }
  my $rin = '';
  vec($rin, fileno($_->{s}), 1) = 1 for grep { defined $_->{s} } @probes;
  my $wait = ($next_send < $deadline ? $next_send : $deadline) - now();
  $wait = 0 if $wait < 0;
  my $n = select(my $rout = $rin, undef, undef, $wait);
  next if $n <= 0;
  for my $p (grep { defined $_->{s} } @probes) {
    next if !vec($rout, fileno($p->{s}), 1);
    my $buf = '';
    if (defined recv($p->{s}, $buf, 2048, 0)) { on_packet($p->{v6}, $buf, now()); }
  }
}

for my $p (@probes) {
  if (defined $p->{rtt}) { printf "%s\tok\t%.3f\n", $p->{id}, $p->{rtt}; }
  else { printf "%s\tfail\t%s\n", $p->{id}, $p->{err} // $p->{last_error} // 'timeout'; }
}
