# SPDX-License-Identifier: Apache-2.0
package OCSPGuardTest;
# Helpers shared by the suite: the test PKI, the real `openssl ocsp`
# responder and the blackhole on fixed loopback ports (the suite runs in its
# own network namespace), and an `openssl s_client -status` probe.
use strict;
use warnings FATAL => 'all';

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IO::Socket::INET ();
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(time sleep);

use parent 'Exporter';    # import() below runs the supervisor first
our @EXPORT = qw(pki_dir t_dir start_responder stop_responder responder_running
                 start_blackhole stop_blackhole s_client_status wait_for_staple
                 error_log_lines vhost_port start_own_httpd stop_own_httpd
                 start_fault stop_fault set_fault_mode file_lines
                 start_proxy stop_proxy $PROXY_PORT median
                 check_responders responder_answers
                 $RESPONDER_PORT $SHORT_PORT $FAULT_PORT);

our $RESPONDER_PORT = 18880;
our $BLACKHOLE_PORT = 18881;
our $SHORT_PORT     = 18884;    # responses valid one minute
our $FAULT_PORT     = 18890;    # t/bin/fault_responder.pl
our $PROXY_PORT     = 13128;    # squid, a real forward proxy

sub t_dir   { abs_path(dirname(__FILE__) . '/..') }
sub pki_dir { t_dir() . '/pki/out' }
sub pid_file { t_dir() . "/logs/svc-$_[0].pid" }
sub spec_file { t_dir() . "/logs/svc-$_[0].spec" }

sub setup_pki {
    my $dir = pki_dir();
    return if -f "$dir/index.txt" && -f "$dir/offvh.chain.pem";
    system('bash', t_dir() . '/pki/mkpki.sh', $dir) == 0
        or die "mkpki.sh failed\n";
}

sub listening {
    my $port = shift;
    my $out = `ss -ltnH 'sport = :$port' 2>/dev/null`;
    return $out =~ /LISTEN/;
}

sub wait_listening {
    my ($port, $want, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (time < $end) {
        return 1 if !!listening($port) == !!$want;
        sleep 0.05;
    }
    return 0;
}

# The real responder. Never probed by connecting: `openssl ocsp` spins
# after a connection that closes without a request.
# %o: port, validity (openssl ocsp options), index (an openssl ca database;
# default the test PKI's index.txt; the file is read again when it changes)
sub start_responder {
    my %o = (port => $RESPONDER_PORT, validity => '-ndays 1',
             index => 'index.txt', @_);
    stop_responder($o{port});
    my $dir = pki_dir();
    mkdir t_dir() . '/logs';
    # t_dir() is relative to the test's cwd: name the log before the chdir
    my $log = t_dir() . "/logs/ocsp-$o{port}.log";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        chdir $dir or die;
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        exec 'openssl', 'ocsp', '-index', $o{index}, '-port', $o{port},
             '-rsigner', 'ocsp.crt', '-rkey', 'ocsp.key',
             '-CA', 'intermediate.crt', split(' ', $o{validity});
        _exit(127);
    }
    write_pid($o{port}, $pid);
    # how to start it again (check_responders)
    open my $fh, '>', spec_file($o{port}) or die "spec file: $!";
    print $fh "validity=$o{validity}\nindex=$o{index}\n";
    close $fh;
    wait_listening($o{port}, 1) or die "responder on $o{port} did not start\n";
    return $pid;
}

sub write_pid {
    my ($port, $pid) = @_;
    open my $fh, '>', pid_file($port) or die "pid file: $!";
    print $fh $pid;
    close $fh;
}

sub stop_service {
    my $port = shift;
    my $file = pid_file($port);
    unlink spec_file($port);
    return unless -f $file;
    open my $fh, '<', $file or return;
    my $pid = <$fh>;
    close $fh;
    unlink $file;
    return unless $pid && $pid =~ /^(\d+)$/;
    kill 'TERM', $1;
    for (1 .. 50) {
        last if !kill(0, $1) || waitpid($1, WNOHANG) == $1;
        sleep 0.05;
    }
    kill 'KILL', $1 if kill 0, $1;
    wait_listening($port, 0, 5);
}

sub stop_responder { stop_service($_[0] // $RESPONDER_PORT) }
sub responder_running { listening($_[0] // $RESPONDER_PORT) }

# Accepts connections and never answers: the responder that hangs.
sub start_blackhole {
    my $port = shift // $BLACKHOLE_PORT;
    stop_service($port);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Listen => 64, ReuseAddr => 1)
            or _exit(1);
        my @held;
        while (my $c = $srv->accept) { push @held, $c }
        _exit(0);
    }
    write_pid($port, $pid);
    wait_listening($port, 1) or die "blackhole on $port did not start\n";
    return $pid;
}

sub stop_blackhole { stop_service($_[0] // $BLACKHOLE_PORT) }

# The fault responder: relays to the short-validity responder until told
# otherwise with set_fault_mode(). A second one (port => N, log => FILE)
# shares the mode and logs its requests to FILE.
sub fault_mode_file { t_dir() . '/logs/fault-mode' }

sub set_fault_mode {
    my $mode = shift;
    open my $fh, '>', fault_mode_file() . '.tmp' or die;
    print $fh "$mode\n";
    close $fh;
    rename fault_mode_file() . '.tmp', fault_mode_file() or die;
}

sub start_fault {
    my %o = (port => $FAULT_PORT, upstream => $SHORT_PORT,
             log => t_dir() . '/logs/fault_responder.log', @_);
    stop_service($o{port});
    set_fault_mode($o{mode}) if $o{mode};
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # never hold the test harness's pipe open (its children sleep)
        open STDOUT, '>>', $o{log};
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        exec 'perl', t_dir() . '/bin/fault_responder.pl', '--port', $o{port},
             '--mode-file', fault_mode_file(), '--upstream', $o{upstream},
             '--dir', pki_dir();
        _exit(127);
    }
    write_pid($o{port}, $pid);
    wait_listening($o{port}, 1) or die "fault responder did not start\n";
    return $pid;
}

sub stop_fault { stop_service($_[0] // $FAULT_PORT) }

# squid as a forward proxy that alone can resolve ocsp.via-proxy.test (its
# own hosts_file): a responder reachable only through the proxy, as in an
# egress-locked datacenter. Returns the access log path.
sub start_proxy {
    my $dir = t_dir() . '/logs/squid';
    system('mkdir', '-p', $dir);
    open my $h, '>', "$dir/hosts" or die;
    print $h "127.0.0.1 ocsp.via-proxy.test\n";
    close $h;
    open my $c, '>', "$dir/squid.conf" or die;
    print $c <<"CONF";
http_port 127.0.0.1:$PROXY_PORT
hosts_file $dir/hosts
dns_nameservers 127.0.0.1
http_access allow all
cache deny all
cache_mem 1 MB
access_log stdio:$dir/access.log
cache_log $dir/cache.log
pid_filename $dir/squid.pid
coredump_dir $dir
netdb_filename none
pinger_enable off
shutdown_lifetime 1 seconds
CONF
    close $c;
    stop_service($PROXY_PORT);
    # A squid stopped by an earlier test may have left its pid file, whose
    # PID this namespace can have given to another process since: squid
    # would then refuse to start ("already running").
    unlink "$dir/squid.pid";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>>', "$dir/stdout.log";
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        exec 'squid', '-N', '-f', "$dir/squid.conf";
        _exit(127);
    }
    write_pid($PROXY_PORT, $pid);
    wait_listening($PROXY_PORT, 1, 20) or die "squid did not start\n";
    return "$dir/access.log";
}

sub stop_proxy { stop_service($PROXY_PORT) }

sub file_lines {
    my ($file, $re) = @_;
    open my $fh, '<', $file or return ();
    return grep { /$re/ } <$fh>;
}

sub start_services {
    start_responder();
    start_blackhole();
    start_responder(port => $SHORT_PORT, validity => '-nmin 1');
    start_fault(mode => 'relay');
}

sub stop_services {
    stop_responder();
    stop_blackhole();
    stop_responder($SHORT_PORT);
    stop_fault();
    stop_proxy();
}

# One TLS handshake with the status_request extension; what came stapled.
sub s_client_status {
    my %o = (timeout => 15, @_);
    my $t0 = time;
    my $cmd = "timeout $o{timeout} openssl s_client -connect 127.0.0.1:$o{port}"
            . " -servername $o{servername} -status </dev/null 2>&1";
    my $raw = `$cmd`;
    my %r = (raw => $raw, elapsed_s => time - $t0);
    $r{handshake_ok}    = $raw =~ /^(?:New|Reused), TLSv/m ? 1 : 0;
    $r{stapled}         = ($raw =~ /OCSP response:\s*\n=+/ ) ? 1 : 0;
    $r{stapled}         = 0 if $raw =~ /OCSP response: no response sent/;
    ($r{response_status}) = $raw =~ /OCSP Response Status: (\w+)/;
    ($r{cert_status})   = $raw =~ /Cert Status: (\w+)/;
    ($r{this_update})   = $raw =~ /This Update: (.+)/;
    ($r{next_update})   = $raw =~ /Next Update: (.+)/;
    ($r{serial})        = $raw =~ /Serial Number: (\w+)/;
    ($r{peer_cn})       = $raw =~ /^subject=.*CN\s*=\s*([^,\n]+)/m;
    $r{$_} //= '' for qw(response_status cert_status this_update next_update serial peer_cn);
    return \%r;
}

# Poll until a staple comes; returns seconds waited, or undef on timeout.
# Half-way through, the responders are checked (check_responders).
sub wait_for_staple {
    my ($port, $servername, $timeout) = @_;
    $timeout //= 15;
    my $t0 = time;
    my $checked;
    while (time - $t0 < $timeout) {
        my $r = s_client_status(port => $port, servername => $servername,
                                timeout => 5);
        return time - $t0 if $r->{stapled};
        if (!$checked && time - $t0 > $timeout / 2) {
            $checked = 1;
            check_responders(min_interval => 3);
        }
        sleep 0.1;
    }
    return undef;
}

sub median { my @s = sort { $a <=> $b } @_; $s[int(@s / 2)] }

sub error_log_lines {
    my $re = shift;
    open my $fh, '<', t_dir() . '/logs/error_log' or return ();
    return grep { /$re/ } <$fh>;
}

sub vhost_port {
    my $name = shift;
    require Apache::Test;
    my $cfg = Apache::Test::config();
    return $cfg->{vhosts}{$name}{port};
}

# A second httpd beside Apache::Test's, for set-ups that must not touch the
# main test server (another stapling provider, restarts). %o: name, port,
# vhosts => [[servername, pki leaf, lines inside the vhost...], ...],
# extra => config lines, bare => 1 to leave out the suite's OCSPGuardTimeout
# and OCSPGuardRetry (a configuration written the mod_ssl way),
# prepare => sub { $dir } run before the start (e.g. to seed the state dir).
# Returns { dir, conf, error_log, port }.
sub start_own_httpd {
    my %o = @_;
    check_responders();
    require Apache::Test;
    my $vars = Apache::Test::config()->{vars};
    my $t = t_dir();
    my $dir = "$t/own/$o{name}";
    system('rm', '-rf', $dir);
    system('mkdir', '-p', "$dir/logs", "$dir/run", "$dir/state");
    my $pki = pki_dir();
    my $conf = "$dir/httpd.conf";
    open my $mt, '>', "$dir/mime.types" or die; close $mt;
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"CONF";
ServerRoot $dir
ServerName localhost
PidFile $dir/run/httpd.pid
DefaultRuntimeDir $dir/run
Mutex file:$dir/run
ErrorLog $dir/logs/error_log
LogLevel info ocsp_guard:debug
Include $t/conf/inherit.conf
TypesConfig $dir/mime.types
LoadModule ocsp_guard_module $t/mod_ocsp_guard.so
Listen 127.0.0.1:$o{port}
OCSPGuardStateDir $dir/state
CONF
    # connect timeout = total: a fetcher starved of CPU must not give up
    # connections `openssl ocsp` accepted (it spins after an empty one)
    print $fh "OCSPGuardTimeout 2 2\nOCSPGuardRetry 1 4\n" unless $o{bare};
    print $fh "$_\n" for @{ $o{extra} || [] };
    for my $vh (@{ $o{vhosts} }) {
        my ($name, $leaf, @inside) = @$vh;
        print $fh <<"CONF";
<VirtualHost 127.0.0.1:$o{port}>
    ServerName $name
    SSLEngine on
    SSLCertificateFile $pki/$leaf.chain.pem
    SSLCertificateKeyFile $pki/$leaf.key
CONF
        print $fh "    $_\n" for @inside;
        print $fh "</VirtualHost>\n";
    }
    close $fh;
    $o{prepare}->($dir) if $o{prepare};
    my $own = { dir => $dir, conf => $conf, port => $o{port},
                httpd => $vars->{httpd}, error_log => "$dir/logs/error_log" };
    system($own->{httpd}, '-f', $conf, '-k', 'start') == 0
        or die "own httpd $o{name} did not start\n";
    # httpd detaches before its post_config: it is up once it says so
    my $end = time + 15;
    while (time < $end) {
        die "own httpd $o{name} failed its configuration\n"
            if file_lines($own->{error_log}, qr/AH00016|AH00020|Configuration Failed/);
        last if file_lines($own->{error_log}, qr/AH00489/);
        sleep 0.05;
    }
    wait_listening($o{port}, 1, 10) or die "own httpd $o{name} not listening\n";
    return $own;
}

# Returns once httpd has exited: its pid file is removed last, after the
# children were reaped and their fate logged (a crash at stop included).
sub stop_own_httpd {
    my $own = shift;
    system($own->{httpd}, '-f', $own->{conf}, '-k', 'stop');
    my $end = time + 30;
    sleep 0.05 while -e "$own->{dir}/run/httpd.pid" && time < $end;
    wait_listening($own->{port}, 0, 10);
}

# --- the supervisor -----------------------------------------------------
# `openssl ocsp` stops answering for good after a TCP connection that
# closes without a request (it spins at 100% CPU from then on; DESIGN.md),
# and on a loaded machine anything can stall. So that one test cannot take
# the responders of all the others with it: at the start of every test
# file, before an own httpd starts and when a staple is slow to come, each
# responder the suite started (start_responder; the stopped ones are left
# alone) is asked a real OCSP question, and one that does not answer is
# restarted as it was started. Each restart is said on stderr and in
# logs/supervisor.log.

# A real OCSP request for good.crt (any certificate of the test
# intermediate gets an answer, "unknown" included); true if answered.
sub responder_answers {
    my ($port, $timeout) = @_;
    $timeout //= 3;
    my $pki = pki_dir();
    my $out = `timeout @{[ $timeout + 2 ]} openssl ocsp -issuer $pki/intermediate.crt -cert $pki/good.crt -url http://127.0.0.1:$port/ -timeout $timeout -no_nonce -noverify 2>&1`;
    return $out =~ /^\S+: (?:good|revoked|unknown)\b/m ? 1 : 0;
}

sub read_pid {
    open my $fh, '<', pid_file($_[0]) or return undef;
    my $pid = <$fh> // '';
    return $pid =~ /^(\d+)/ ? $1 : undef;
}

sub cpu_ticks {    # utime + stime of a process, in clock ticks
    open my $fh, '<', "/proc/$_[0]/stat" or return undef;
    my $stat = <$fh> // '';
    my @f = split ' ', ($stat =~ /\)\s(.*)/)[0] // '';
    return @f > 12 ? $f[11] + $f[12] : undef;
}

sub supervisor_say {
    my $msg = sprintf "supervisor %s: %s", scalar(localtime), shift;
    print STDERR "# $msg\n";
    if (open my $fh, '>>', t_dir() . '/logs/supervisor.log') { print $fh "$msg\n" }
}

my %checked_at;
# %o: force (ignore min_interval), min_interval (s, default 10), timeout
# (s per OCSP request, default 3), only (one port). Returns the ports
# restarted.
sub check_responders {
    my %o = (min_interval => 10, timeout => 3, @_);
    my @restarted;
    for my $spec (sort glob(t_dir() . '/logs/svc-*.spec')) {
        my ($port) = $spec =~ /svc-(\d+)\.spec$/ or next;
        next if $o{only} && $port != $o{only};
        next if !$o{force} && $checked_at{$port}
                && time - $checked_at{$port} < $o{min_interval};
        my $pid = read_pid($port) or next;    # stopped on purpose
        my $t0 = time;
        my $ticks0 = cpu_ticks($pid);
        my $ok = kill(0, $pid) && responder_answers($port, $o{timeout});
        my $ticks1 = cpu_ticks($pid);
        my $cpu = defined $ticks0 && defined $ticks1
            ? ($ticks1 - $ticks0) / 100 / (time - $t0) : 0;
        # a slow answer on a loaded machine is not a dead responder: ask
        # once more, longer, unless it is spinning
        $ok ||= $cpu < 0.5 && kill(0, $pid)
                && responder_answers($port, 2 * $o{timeout});
        $checked_at{$port} = time;
        next if $ok;
        open my $fh, '<', $spec or next;
        my %spec = map { /^(\w+)=(.*)$/ ? ($1, $2) : () } <$fh>;
        close $fh;
        supervisor_say(sprintf "the responder on port %d (pid %d, %.0f%% CPU)"
            . " did not answer an OCSP request: restarting it", $port, $pid, 100 * $cpu);
        start_responder(port => $port, %spec);
        push @restarted, $port;
    }
    return @restarted;
}

# Every test file that uses this module starts with healthy responders.
sub import {
    check_responders(force => 1)
        if $ENV{OG_TEST_OWNER} && $ENV{OG_TEST_OWNER} != $$;
    __PACKAGE__->export_to_level(1, @_);
}

# $? is the exit status in an END block: keep it, whatever ss and kill do.
END {
    local $?;
    stop_services() if $ENV{OG_TEST_OWNER} && $ENV{OG_TEST_OWNER} == $$;
}

1;
