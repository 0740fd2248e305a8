#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# A fault-injecting OCSP responder on a real socket (127.0.0.1 only).
# Reads its mode from a file at every request, so a test can switch faults
# while httpd keeps running:
#   relay         forward to the real responder (--upstream PORT), answer as it does
#   relay:MS      the same, MS milliseconds later (a responder far away)
#   blackhole     accept, read, never answer
#   slow          200 headers, then one byte every 0.5 s
#   http500       HTTP 500
#   garbage       200 with a body that is not an OCSP response
#   trylater      200 with OCSP responseStatus tryLater (3)
#   unauthorized  200 with OCSP responseStatus unauthorized (6)
#   file:NAME     200 with the bytes of NAME in --dir (wrong_cert.der ...)
#   oversize      200 with a 200 KB body
#   redirect      302 to an ftp:// URL
# "Connection refused" is the test stopping this process.
# With --keep-alive, relayed requests keep an HTTP/1.1 client's connection
# for its next request (a real responder's keep-alive; the mode is read
# again for each request; stopping this process leaves such connections
# to their children, so tests of "refused" do without it).
# Usage: fault_responder.pl --port N --mode-file F --upstream N --dir D [--keep-alive]
use strict;
use warnings;
use Getopt::Long;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

my ($port, $mode_file, $upstream, $dir, $keep_alive) = (18890, '', 18884, '.', 0);
GetOptions('port=i' => \$port, 'mode-file=s' => \$mode_file,
           'upstream=i' => \$upstream, 'dir=s' => \$dir,
           'keep-alive' => \$keep_alive) or exit 2;
$SIG{CHLD} = 'IGNORE';

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                Listen => 64, ReuseAddr => 1)
    or die "listen 127.0.0.1:$port: $!\n";

sub mode {
    open my $fh, '<', $mode_file or return 'relay';
    my $m = <$fh> // 'relay';
    chomp $m;
    return $m || 'relay';
}

sub read_request {
    my $c = shift;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread $c, $buf, 8192, length $buf;
        return unless $n;
    }
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    while (defined $len && length($body) < $len) {
        my $n = sysread $c, $body, $len - length($body), length $body;
        last unless $n;
    }
    my ($method, $path, $version) = $head =~ /^(\S+)\s+(\S+)\s+HTTP\/(\S+)/;
    my $keep = ($version // '') eq '1.1' && $head !~ /^Connection:\s*close/mi;
    return ($method, $path, $body, $keep);
}

sub answer {
    my ($c, $status, $body, $type) = @_;
    $type //= 'application/ocsp-response';
    print $c "HTTP/1.0 $status\r\nContent-Type: $type\r\n"
           . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
}

# Relayed, and the connection kept for the next request when the client
# speaks HTTP/1.1 (as a real responder would): the answer is read whole
# and sent with its length.
sub relay_keep {
    my ($c, $method, $path, $body) = @_;
    my $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $upstream)
        or return answer($c, '502 Bad Gateway', '', 'text/plain');
    print $up "$method $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
            . ($method eq 'POST' ? "Content-Type: application/ocsp-request\r\n"
                                   . "Content-Length: " . length($body) . "\r\n\r\n$body"
                                 : "\r\n");
    my $resp = '';
    while (sysread $up, $resp, 65536, length $resp) { }
    my ($head, $data) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\S+\s+(\d+[^\r\n]*)};
    $data //= '';
    print $c "HTTP/1.1 " . ($status // '502 Bad Gateway') . "\r\n"
           . "Content-Type: application/ocsp-response\r\n"
           . "Content-Length: " . length($data) . "\r\n\r\n$data";
}

sub relay {
    my ($c, $method, $path, $body) = @_;
    my $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $upstream)
        or return answer($c, '502 Bad Gateway', '', 'text/plain');
    if ($method eq 'POST') {
        print $up "POST $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                . "Content-Type: application/ocsp-request\r\n"
                . "Content-Length: " . length($body) . "\r\n\r\n$body";
    }
    else {
        print $up "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    }
    my $resp = '';
    while (sysread $up, $resp, 65536, length $resp) { }
    print $c $resp;
}

sub serve {
    my $c = shift;
    binmode $c;
    $c->autoflush(1);
  REQUEST:
    my ($method, $path, $body, $keep) = read_request($c);
    return unless $method;
    my $mode = mode();
    # one line per request, so a test can tell a fetch is in flight
    syswrite STDOUT, sprintf("%.3f %s %s\n", time(), $mode, $method);
    if ($mode =~ /^relay(?::(\d+))?$/) {
        sleep($1 / 1000) if $1;
        return relay($c, $method, $path, $body) unless $keep && $keep_alive;
        relay_keep($c, $method, $path, $body);
        goto REQUEST;
    }
    elsif ($mode eq 'blackhole')    { sleep 3600 }
    elsif ($mode eq 'http500')      { answer($c, '500 Internal Server Error', '', 'text/plain') }
    elsif ($mode eq 'garbage')      { answer($c, '200 OK', "this is not an OCSP response\n") }
    elsif ($mode eq 'trylater')     { answer($c, '200 OK', "\x30\x03\x0a\x01\x03") }
    elsif ($mode eq 'unauthorized') { answer($c, '200 OK', "\x30\x03\x0a\x01\x06") }
    elsif ($mode eq 'oversize')     { answer($c, '200 OK', "\x30\x83\x03\x0d\x40" . ('A' x 200_000)) }
    elsif ($mode eq 'redirect') {
        print $c "HTTP/1.0 302 Found\r\nLocation: ftp://127.0.0.1/ocsp\r\n"
               . "Content-Length: 0\r\n\r\n";
    }
    elsif ($mode eq 'slow') {
        local $| = 1;
        $c->autoflush(1);
        print $c "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
               . "Content-Length: 1000\r\n\r\n";
        for (1 .. 1000) { print $c "\x30" or last; sleep 0.5 }
    }
    elsif ($mode =~ /^file:([\w.-]+)$/) {
        open my $fh, '<:raw', "$dir/$1" or return answer($c, '404 Not Found', '');
        local $/;
        answer($c, '200 OK', scalar <$fh>);
    }
    else { answer($c, '500 Unknown Fault Mode', '', 'text/plain') }
}

while (1) {
    my $c = $srv->accept or next;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $srv;
        serve($c);
        close $c;
        _exit(0);
    }
    close $c;
}
