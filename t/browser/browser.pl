#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# make test-browser: what a real browser shows for a must-staple site when
# the CA's OCSP responder goes down, behind mod_ocsp_guard and behind
# mod_ssl's own stapling. Run through t/browser/run.sh, which puts it in
# private network and PID namespaces as an unprivileged user.
#
# Real parts only: the test PKI (t/pki/mkpki.sh, leaf mustaple: TLS Feature
# status_request), a real `openssl ocsp` responder on 127.0.0.1:18895 whose
# responses are valid 2 minutes, two httpds serving the same page with the
# same certificate (8443: this module, 8444: mod_ssl with SSLUseStapling on),
# and Debian's firefox-esr, headless, driven through Marionette. Each page
# load is a new Firefox with a new copy of a profile that trusts the test
# root: a fresh TLS handshake, no TLS session, HTTP or OCSP cache carried over.
#
# States:
#   healthy   responder up: both pages load
#   outage    responder refusing connections, past a failed refresh of this
#             module and past mod_ssl's cache timeout, before the last good
#             response's nextUpdate: this module's page loads, mod_ssl's fails
#   expired   past that nextUpdate: this module's page fails with
#             MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING (no staple
#             sent), never with a stale staple
# Environment: OG_SHOTS=DIR writes the screenshots there (PNG).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib", $FindBin::Bin;
use OCSPGuardTest qw(pki_dir t_dir start_responder stop_responder
                     s_client_status file_lines);
use Marionette;
use JSON::PP ();
use POSIX qw(WNOHANG _exit strftime);
use Time::HiRes qw(time sleep);

$| = 1;
my $OCSP_PORT   = 18895;         # mustaple's AIA responder
my $GUARD_PORT  = 8443;          # httpd with mod_ocsp_guard
my $MODSSL_PORT = 8444;          # httpd with SSLUseStapling on
my $MARIONETTE  = 2828;
my $VALIDITY    = '-nmin 2';     # responses valid 2 minutes
my $HOST        = 'mustaple.test';
my $NEED_CODE   = 'MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING';

my $t     = t_dir();
my $work  = "$t/browser-work";
my $shots = $ENV{OG_SHOTS};
my $t_start = time;
system('rm', '-rf', $work);
system('mkdir', '-p', "$t/logs", $work);

# --- output: TAP-like lines, a summary, the exit status ----------------------
my ($n, $passed, $failed) = (0, 0, 0);
my @table;    # [state, server, what Firefox showed, what was stapled]
sub ok {
    my ($cond, $name, $why) = @_;
    $n++;
    if ($cond) { $passed++; print "ok $n - $name\n" }
    else       { $failed++; print "not ok $n - $name\n"; print "#   $why\n" if $why }
    return $cond;
}
sub note { print map { "# $_\n" } split /\n/, join '', @_ }
sub elapsed { sprintf '%.0f s', time - $t_start }
sub stamp { strftime('%H:%M:%S', gmtime($_[0] // time)) . ' GMT' }

# --- the PKI ------------------------------------------------------------------
my $pki = pki_dir();
unless (-f "$pki/mustaple.chain.pem" && -f "$pki/index.txt") {
    system('bash', "$t/pki/mkpki.sh", $pki) == 0 or die "mkpki.sh failed\n";
}

# --- the two httpds -----------------------------------------------------------
# The stock modules the suite loads (t/TEST.PL's write_inherit_conf).
chomp(my $libexec = `apxs -q LIBEXECDIR`);
my @stock = qw(mpm_event authz_core authz_host authn_core mime dir alias
               socache_shmcb ssl);
(my $httpd = `apxs -q SBINDIR`) =~ s/\s+$//;
$httpd .= '/' . (-x "$httpd/apache2" ? 'apache2' : 'httpd');

sub write_httpd {
    my ($name, $port, $label, @extra) = @_;
    my $dir = "$work/$name";
    system('mkdir', '-p', map { "$dir/$_" } qw(logs run state htdocs));
    open my $fh, '>', "$dir/httpd.conf" or die;
    print $fh "LoadModule ${_}_module $libexec/mod_$_.so\n" for @stock;
    print $fh <<"CONF";
ServerRoot $dir
ServerName localhost
PidFile $dir/run/httpd.pid
DefaultRuntimeDir $dir/run
Mutex file:$dir/run
ErrorLog $dir/logs/error_log
LogLevel info
TypesConfig /dev/null
AddType text/html .html
AddDefaultCharset utf-8
DocumentRoot $dir/htdocs
DirectoryIndex index.html
<Directory $dir/htdocs>
    Require all granted
</Directory>
Listen 127.0.0.1:$port
CONF
    print $fh "$_\n" for @extra;
    print $fh <<"CONF";
<VirtualHost 127.0.0.1:$port>
    ServerName $HOST
    SSLEngine on
    SSLCertificateFile $pki/mustaple.chain.pem
    SSLCertificateKeyFile $pki/mustaple.key
</VirtualHost>
CONF
    close $fh;
    return { name => $name, dir => $dir, port => $port, label => $label,
             conf => "$dir/httpd.conf", error_log => "$dir/logs/error_log" };
}

# The page, written again before each load with the state it is loaded in
# (what the screenshot of a loaded page then says).
sub write_page {
    my ($h, $state) = @_;
    my $url = "https://$HOST:$h->{port}/";
    open my $p, '>', "$h->{dir}/htdocs/index.html.tmp" or die;
    print $p <<"HTML";
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>$HOST: page loaded</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; margin: 36px; color: #1b3d1b; }
h1 { font-size: 28px; }
p { font-size: 17px; line-height: 1.5; max-width: 820px; }
code { background: #eef3ee; padding: 1px 4px; }
.state { background: #eef3ee; border-left: 6px solid #2e7d32; padding: 10px 14px; }
</style></head>
<body data-server="$h->{name}">
<h1>&#x2714; $url loaded</h1>
<p>Served by <b>$h->{label}</b>.</p>
<p class="state">$state</p>
<p>The certificate carries the TLS Feature <code>status_request</code>
(OCSP must-staple): Firefox shows this page only when the server staples
a valid OCSP response to the TLS handshake.</p>
</body></html>
HTML
    close $p;
    rename "$h->{dir}/htdocs/index.html.tmp", "$h->{dir}/htdocs/index.html" or die;
}

sub start_httpd {
    my $h = shift;
    system($httpd, '-f', $h->{conf}, '-k', 'start') == 0
        or die "httpd $h->{name} did not start\n";
    my $end = time + 20;
    while (time < $end) {
        die "httpd $h->{name} failed its configuration\n"
            if file_lines($h->{error_log}, qr/AH00016|AH00020|Configuration Failed/);
        last if file_lines($h->{error_log}, qr/AH00489/)
             && `ss -ltnH 'sport = :$h->{port}'` =~ /LISTEN/;
        sleep 0.1;
    }
}

sub stop_httpd { system($httpd, '-f', $_[0]{conf}, '-k', 'stop') }

my $guard = write_httpd('guard', $GUARD_PORT, 'httpd with mod_ocsp_guard',
    "LoadModule ocsp_guard_module $t/mod_ocsp_guard.so",
    '# defaults, except: refresh when 90% of the validity is left (every',
    '# ~12 s with 2-minute responses), so that refreshes fail in the outage;',
    '# short timeouts and retries as in t/conf/extra.conf.in',
    'OCSPGuardRefreshWindow 90',
    'OCSPGuardTimeout 2 1',
    'OCSPGuardRetry 1 4',
    "OCSPGuardStateDir $work/guard/state",
    "OCSPGuardEventLog $work/guard/logs/events.json");
my $modssl = write_httpd('modssl', $MODSSL_PORT, "httpd with mod_ssl's own stapling",
    '# mod_ssl stapling, its defaults except a 10 s cache timeout (default',
    '# 3600 s), so that it refreshes during the outage',
    "SSLStaplingCache shmcb:$work/modssl/run/stapling(65536)",
    'SSLUseStapling on',
    'SSLStaplingStandardCacheTimeout 10');

# --- Firefox ------------------------------------------------------------------
my $template = "$work/profile-template";
system('mkdir', '-p', $template);
system('certutil', '-N', '-d', "sql:$template", '--empty-password') == 0
    or die "certutil -N failed\n";
system('certutil', '-A', '-d', "sql:$template", '-n', 'OCSP Guard Test Root',
       '-t', 'C,,', '-i', "$pki/root.crt") == 0 or die "certutil -A failed\n";
{
    open my $u, '>', "$template/user.js" or die;
    print $u map { "user_pref(\"$_->[0]\", $_->[1]);\n" } (
        # mustaple.test is this machine; no IPv6 listener
        ['network.dns.localDomains', qq("$HOST")],
        ['network.dns.disableIPv6', 'true'],
        ['network.trr.mode', 5],
        ['network.proxy.type', 0],
        # revocation checking as shipped: stapling and must-staple on
        ['security.ssl.enable_ocsp_stapling', 'true'],
        ['security.ssl.enable_ocsp_must_staple', 'true'],
        # nothing cached, nothing fetched behind the test's back
        ['browser.cache.disk.enable', 'false'],
        ['browser.cache.memory.enable', 'false'],
        ['network.http.speculative-parallel-limit', 0],
        ['network.prefetch-next', 'false'],
        ['network.dns.disablePrefetch', 'true'],
        ['network.captive-portal-service.enabled', 'false'],
        ['network.connectivity-service.enabled', 'false'],
        ['services.settings.server', '"data:,"'],
        ['app.update.disabledForTesting', 'true'],
        ['app.normandy.enabled', 'false'],
        ['toolkit.telemetry.enabled', 'false'],
        ['toolkit.telemetry.unified', 'false'],
        ['toolkit.telemetry.server', '""'],
        ['datareporting.policy.dataSubmissionEnabled', 'false'],
        ['datareporting.healthreport.uploadEnabled', 'false'],
        ['browser.safebrowsing.malware.enabled', 'false'],
        ['browser.safebrowsing.phishing.enabled', 'false'],
        ['browser.safebrowsing.downloads.enabled', 'false'],
        ['browser.safebrowsing.blockedURIs.enabled', 'false'],
        ['browser.safebrowsing.provider.mozilla.updateURL', '""'],
        ['browser.safebrowsing.provider.google4.updateURL', '""'],
        ['extensions.update.enabled', 'false'],
        ['extensions.blocklist.enabled', 'false'],
        ['extensions.getAddons.cache.enabled', 'false'],
        ['browser.search.update', 'false'],
        ['browser.region.network.url', '""'],
        ['geo.provider.network.url', '""'],
        ['media.gmp-manager.url', '""'],
        ['browser.shell.checkDefaultBrowser', 'false'],
        ['browser.startup.homepage_override.mstone', '"ignore"'],
        ['browser.startup.page', 0],
        ['browser.aboutwelcome.enabled', 'false'],
        ['browser.newtabpage.enabled', 'false'],
        ['startup.homepage_welcome_url', '""'],
    );
    close $u;
}

my @REVOCATION_PREFS = qw(security.OCSP.enabled security.OCSP.require
    security.ssl.enable_ocsp_stapling security.ssl.enable_ocsp_must_staple
    security.pki.crlite_mode);
my $loads = 0;
# One page load in a new Firefox on a fresh copy of the profile. Returns
# { loaded, title, server, text, error, code, url, png }.
sub firefox_load {
    my ($url, $shot) = @_;
    $loads++;
    my $profile = "$work/profile-$loads";
    # the previous Firefox is gone: nobody else answers on the Marionette port
    my $free_by = time + 20;
    sleep 0.1 while time < $free_by && `ss -ltnH 'sport = :$MARIONETTE'` =~ /LISTEN/;
    system('cp', '-a', $template, $profile) == 0 or die "cp profile\n";
    my $log = "$t/logs/firefox-$loads.log";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        setpgrp(0, 0);
        open STDOUT, '>', $log;
        open STDERR, '>&', \*STDOUT;
        $ENV{MOZ_HEADLESS} = 1;
        no warnings 'exec';
        # system access: only to read the preferences above (chrome context)
        exec 'firefox-esr', '--headless', '--marionette', '--remote-allow-system-access',
             '--no-remote',
             '--profile', $profile, 'about:blank';
        _exit(127);
    }
    my %r = (loaded => 0, error => '', code => '');
    my $m;
    my $ok = eval {
        $m = Marionette->connect(port => $MARIONETTE, timeout => 60);
        my $caps = $m->new_session;
        if ($loads == 1) {    # what this Firefox does about revocation
            my $p = eval { $m->prefs(@REVOCATION_PREFS) } || {};
            note "Firefox $caps->{capabilities}{browserVersion}, revocation preferences"
                . ($@ ? " not readable: $@" : ':');
            note "  $_ = " . (defined $p->{$_} ? JSON::PP->new->allow_nonref->encode($p->{$_}) : 'unset')
                for grep { exists $p->{$_} } @REVOCATION_PREFS;
        }
        $m->set_window_size(1000, 600);
        my $err = $m->navigate($url);
        $r{url} = $m->current_url;
        if ($err) {
            $r{error} = $err;
            $r{code}  = error_code($m, $err);
        } else {
            $r{title}  = $m->title;
            $r{server} = $m->execute('return document.body.dataset.server || "";');
            $r{text}   = $m->execute('return document.body.innerText;');
            $r{loaded} = 1;
        }
        $r{png} = $m->screenshot_png if $shot;
        1;
    };
    $r{error} ||= "marionette: $@" unless $ok;
    $m->quit if $m;
    my $end = time + 20;
    while (time < $end) { last if waitpid($pid, WNOHANG) == $pid; sleep 0.1 }
    if (kill 0, $pid) { kill 'KILL', -$pid; waitpid($pid, 0) }
    # whatever it left (content processes) goes with its process group
    kill 'KILL', -$pid;
    system('rm', '-rf', $profile);
    return \%r;
}

# The error code string, as the error page shows it ("Error code: ...").
sub error_code {
    my ($m, $err) = @_;
    my $code = '';
    for (1 .. 50) {
        my $text = eval { $m->execute(q{
            function walk(n) {
                var s = '';
                if (n.shadowRoot) s += walk(n.shadowRoot);
                for (var c = n.firstChild; c; c = c.nextSibling) {
                    if (c.nodeType === 3) s += c.data + ' ';
                    else if (c.nodeType === 1 || c.nodeType === 11) s += walk(c);
                }
                return s;
            }
            return walk(document);
        }) } // '';
        ($code) = $text =~ /\b((?:SEC|SSL|MOZILLA_PKIX)_ERROR_[A-Z0-9_]+)\b/;
        last if $code;
        sleep 0.1;
    }
    ($code) = $err =~ /\b((?:SEC|SSL|MOZILLA_PKIX)_ERROR_[A-Z0-9_]+)\b/ unless $code;
    return $code // '';
}

sub save_shot {
    my ($r, $file) = @_;
    return unless $shots && $r->{png};
    open my $f, '>', "$shots/$file" or die "$shots/$file: $!";
    binmode $f;
    print $f $r->{png};
    close $f;
    note "screenshot $file (" . length($r->{png}) . " bytes)";
}

# What the server staples, as `openssl s_client -status` shows it.
sub stapled {
    my $h = shift;
    my $r = s_client_status(port => $h->{port}, servername => $HOST, timeout => 15);
    my $what = !$r->{handshake_ok} ? 'handshake failed'
             : !$r->{stapled} ? 'no response sent'
             : $r->{response_status} ne 'successful' ? "OCSP response status $r->{response_status}"
             : "$r->{cert_status}, thisUpdate $r->{this_update}, nextUpdate $r->{next_update}";
    note "s_client -status $h->{name}: $what";
    $r->{what} = $what;
    return $r;
}

sub epoch_of {   # "Nov 30 13:20:00 2026 GMT"
    my $s = shift;
    return undef unless $s =~ /^\w{3} +\d+ [\d:]+ \d{4}/;
    my $e = `date -u -d '$s' +%s 2>/dev/null`;
    chomp $e;
    return $e =~ /^\d+$/ ? $e : undef;
}

sub events {   # this module's event log, decoded
    my @ev;
    for (file_lines("$guard->{dir}/logs/events.json", qr/^\{/)) {
        my $e = eval { JSON::PP->new->decode($_) } or next;
        push @ev, $e;
    }
    return @ev;
}

sub wait_until {
    my ($what, $timeout, $cond) = @_;
    my $end = time + $timeout;
    while (time < $end) { return 1 if $cond->(); sleep 0.25 }
    note "timed out waiting for $what";
    return 0;
}

# Loads the page of server $h in state $state; true in $r->{shows_page}
# when Firefox shows that server's page (its title, its text).
sub browse {   # state, server, s_client result, screenshot file, page note
    my ($state, $h, $stapled, $shot, $page_note) = @_;
    write_page($h, $page_note // "State: $state.");
    my $r = firefox_load("https://$HOST:$h->{port}/", $shot);
    $r->{shows_page} = $r->{loaded} && $r->{title} eq "$HOST: page loaded"
        && $r->{server} eq $h->{name}
        && index($r->{text}, "Served by $h->{label}") >= 0 ? 1 : 0;
    my $shown = $r->{loaded} ? "page shown"
              : $r->{code} ? "error page: $r->{code}" : "failed: $r->{error}";
    note "Firefox, $h->{name}, $state: $shown";
    note "  $r->{error}" if $r->{error} && !$r->{code};
    push @table, [$state, $h->{name}, $shown, $stapled->{what}, elapsed()];
    save_shot($r, $shot) if $shot;
    return $r;
}

my $status = eval {
    # --- start ----------------------------------------------------------------
    start_responder(port => $OCSP_PORT, validity => $VALIDITY);
    start_httpd($_) for $guard, $modssl;
    note "responder on 127.0.0.1:$OCSP_PORT ($VALIDITY), httpd + mod_ocsp_guard"
       . " on :$GUARD_PORT, httpd + mod_ssl stapling on :$MODSSL_PORT (" . elapsed() . ")";
    for my $h ($guard, $modssl) {
        my $got = wait_until("a staple from $h->{name}", 30,
            sub { s_client_status(port => $h->{port}, servername => $HOST,
                                  timeout => 10)->{stapled} });
        ok($got, "$h->{name}: stapling before the browser comes");
    }

    # --- 1. healthy -------------------------------------------------------------
    note "--- healthy: the responder answers (" . elapsed() . ")";
    for my $h ($guard, $modssl) {
        my $s = stapled($h);
        my $until = epoch_of($s->{next_update});
        my $r = browse('healthy', $h, $s,
                       $h == $guard ? 'browser-healthy.png' : undef,
                       'State: <b>healthy</b>. The OCSP responder answers; the stapled'
                       . ' response is valid until ' . ($until ? stamp($until) : '?')
                       . '. Page written at ' . stamp() . ', just before this load.');
        ok($r->{shows_page},
           "healthy, $h->{name}: Firefox shows the page",
           "Firefox: " . ($r->{code} || $r->{error}));
    }

    # --- 2. outage --------------------------------------------------------------
    stop_responder($OCSP_PORT);
    my $t0 = time;
    note "--- outage: responder stopped at " . stamp() . ", connections refused (" . elapsed() . ")";
    # past a refresh of this module: a failed fetch after the stop
    my $refresh_failed = wait_until('a failed refresh', 40, sub {
        grep { $_->{event} eq 'fetch_failed' && ($_->{error_class} // '') eq 'connect_refused' }
            events() });
    ok($refresh_failed, 'outage: mod_ocsp_guard tried a refresh and was refused');
    # and past mod_ssl's 10 s cache timeout
    my $wait = $t0 + 12 - time;
    sleep $wait if $wait > 0;
    note sprintf 'outage for %.0f s', time - $t0;
    my $gs = stapled($guard);
    my $next = epoch_of($gs->{next_update});
    my $ms = stapled($modssl);
    my @failed = grep { $_->{event} eq 'fetch_failed' } events();
    note sprintf 'mod_ocsp_guard: %d fetch_failed events so far (%s)', scalar @failed,
        join ', ', map { "$_->{error_class} x$_->{count}" } @failed;
    my @ah = file_lines($modssl->{error_log}, qr/AH01941|AH01974|AH01977/);
    for my $line (@ah[0 .. ($#ah < 1 ? $#ah : 1)]) {
        (my $l = $line) =~ s/^(?:\[[^]]*\] )+//;
        chomp $l;
        note "mod_ssl error_log: $l";
    }
    my $g = browse('outage', $guard, $gs, 'browser-outage.png',
        sprintf('State: <b>responder outage</b> for %.0f s (connections refused),'
              . ' refreshes failing. The stapled response is the last good one,'
              . ' valid until %s. Page written at %s, just before this load.',
              time - $t0, $next ? stamp($next) : '?', stamp()));
    my $before = $next && time < $next;
    ok($g->{shows_page},
       'outage, guard: Firefox shows the page (last good response stapled)',
       'Firefox: ' . ($g->{code} || $g->{error}));
    ok($before, 'outage, guard: loaded before the nextUpdate of the stapled response',
       $next ? "nextUpdate '$gs->{next_update}' already passed: machine too slow for the test"
             : 'no stapled response in the outage');
    my $m = browse('outage', $modssl, $ms, 'browser-mod_ssl-outage.png');
    ok(!$m->{loaded} && $m->{code} ne '',
       "outage, modssl: Firefox refuses the page (" . ($m->{code} || 'no code') . ')',
       $m->{loaded} ? 'the page loaded' : "no error code found: $m->{error}");
    note "mod_ssl's error code in the outage: $m->{code} (expected e.g. SEC_ERROR_OCSP_TRY_SERVER_LATER)";

    # --- 3. past nextUpdate -----------------------------------------------------
    die "no nextUpdate seen in the outage, cannot go on\n" unless $next;
    note "--- expired: waiting for nextUpdate $gs->{next_update} (" . elapsed() . ")";
    wait_until('the nextUpdate', 200, sub { time > $next + 2 });
    my $expired_event = wait_until('staple_expired', 20, sub {
        grep { $_->{event} eq 'staple_expired' } events() });
    ok($expired_event, 'expired: mod_ocsp_guard reported staple_expired');
    my $gx = stapled($guard);
    ok($gx->{handshake_ok} && !$gx->{stapled},
       'expired, guard: no staple sent (never a stale one)', "s_client: $gx->{what}");
    my $x = browse('expired', $guard, $gx, 'browser-expired.png');
    ok(!$x->{loaded} && $x->{code} eq $NEED_CODE,
       "expired, guard: Firefox refuses with $NEED_CODE",
       $x->{loaded} ? 'the page loaded' : "got: " . ($x->{code} || $x->{error}));
    my $mx = stapled($modssl);
    browse('expired', $modssl, $mx, undef);
    0;
};
my $died = $@;
ok(0, 'the run completed', $died) if $died;

stop_httpd($_) for $guard, $modssl;
stop_responder($OCSP_PORT);

print "#\n# state     server  Firefox shows                              stapled (s_client -status)\n";
printf "# %-8s  %-6s  %-42s %s  [at %s]\n", @$_ for @table;
printf "# %d Firefox loads, %s in all\n", $loads, elapsed();
print "1..$n\n";
print "browser: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
