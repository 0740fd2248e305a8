#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Summaries of the bench runs, and docs/benchmarks.md with its plots.
#   report.pl healthy WORK CLK_TCK   > results/healthy.json
#   report.pl outage WORK SCENARIO   > results/SCENARIO.json
#   report.pl doc RESULTS DOCS       writes DOCS/benchmarks.md, DOCS/bench-*.png
# Only ratios between contenders measured in the same run are judged.
use strict;
use warnings;
use JSON::PP;

my @CONTENDERS = qw(nostaple modssl md guard);
my %NAME = (nostaple => 'no stapling', modssl => 'mod_ssl SSLUseStapling',
            md => 'mod_md MDStapling', guard => 'mod_ocsp_guard');
my $json = JSON::PP->new->canonical->pretty;

sub slurp_json {
    my $f = shift;
    open my $fh, '<', $f or return undef;
    local $/;
    my $j = eval { decode_json(<$fh>) };
    return $j;
}
sub avg { my $s = 0; $s += $_ for @_; @_ ? $s / @_ : 0 }
sub max { my $m = shift; for (@_) { $m = $_ if $_ > $m } $m }
sub min { my $m = shift; for (@_) { $m = $_ if $_ < $m } $m }

my $mode = shift // '';
if ($mode eq 'healthy') {
    my ($work, $tck) = @ARGV;
    my %out;
    for my $c (@CONTENDERS) {
        my (@j, @ticks);
        for my $round (1 .. 9) {
            my $j = slurp_json("$work/healthy-$c-$round.json") or next;
            open my $fh, '<', "$work/healthy-$c-$round.ticks" or next;
            push @j, $j;
            push @ticks, scalar <$fh>;
        }
        next unless @j;
        my $hs = 0; $hs += $_->{handshakes} for @j;
        my $t = 0; $t += $_ for @ticks;
        $out{$c} = {
            handshakes_per_s => avg(map { $_->{per_second} } @j),
            p50_ms => avg(map { $_->{p50_ms} } @j),
            p99_ms => avg(map { $_->{p99_ms} } @j),
            max_ms => max(map { $_->{max_ms} } @j),
            failed => eval { my $f = 0; $f += $_->{failed_connect} + $_->{failed_handshake} for @j; $f },
            stapled_good_pct => $hs ? 100 * eval { my $g = 0; $g += $_->{stapled_good} for @j; $g } / $hs : 0,
            server_cpu_us_per_handshake => $hs ? 1e6 * $t / $tck / $hs : 0,
            client_cpu_us_per_handshake => avg(map { $_->{client_cpu_us_per_handshake} // 0 } @j),
            rounds => [map { $_->{per_second} } @j],
            # server CPU per handshake in each round, to pair rounds
            rounds_cpu_us => [map { $j[$_]{handshakes} ? 1e6 * $ticks[$_] / $tck / $j[$_]{handshakes} : 0 } 0 .. $#j],
        };
    }
    print $json->encode(\%out);
}
elsif ($mode eq 'outage') {
    my ($work, $s) = @ARGV;
    my %out;
    for my $c (@CONTENDERS) {
        my $j = slurp_json("$work/$s-$c.json") or next;
        my @tl = @{ $j->{timeline} };
        my $before = $j->{before};
        my $after = $j->{after};
        my $healthy_rate = $before ? $before->{per_second} : undef;
        my ($low, $low_s) = (0, undef);
        if ($healthy_rate) {
            for my $t (@tl) {
                next if $t->{s} < $before->{to_s};
                if ($t->{done} < $healthy_rate / 2) { $low++; $low_s //= $t->{s} }
            }
        }
        # single handshakes made one contender at a time after a start
        my @first;
        if (open my $fh, '<', "$work/$s-$c.first") {
            while (my $l = <$fh>) {
                my $p = eval { decode_json($l) } or next;
                push @first, { ms => $p->{first} ? $p->{first}{ms} : undef,
                               stapled_good => $p->{stapled_good} ? 1 : 0 };
            }
        }
        $out{$c} = {
            probes => \@first,
            handshakes => $j->{handshakes},
            failed => $j->{failed_connect} + $j->{failed_handshake},
            stapled_good => $j->{stapled_good},
            p50_ms => $j->{p50_ms}, p99_ms => $j->{p99_ms}, max_ms => $j->{max_ms},
            first => $j->{first},
            before => $before, after => $after,
            seconds_below_half_rate => $healthy_rate ? $low : undef,
            first_second_below_half_rate => $low_s,
            timeline => [map { [$_->{s}, $_->{done}, $_->{good}, $_->{max_ms}, $_->{mean_ms}] } @tl],
        };
    }
    print $json->encode(\%out);
}
elsif ($mode eq 'doc') {
    my ($results, $docs) = @ARGV;
    doc($results, $docs);
}
else {
    die "usage: report.pl healthy|outage|doc ...\n";
}

sub fmt { my ($f, $v) = @_; defined $v ? sprintf($f, $v) : 'n/a' }
sub verdict { $_[0] ? 'met' : '**missed**' }

sub plot {
    my ($results, $docs, $s, $r, $fault_at, $title) = @_;
    my $dir = "$results/plot";
    mkdir $dir;
    my @lines;
    for my $c (@CONTENDERS) {
        next unless $r->{$c};
        open my $fh, '>', "$dir/$s-$c.dat" or die;
        for my $p (@{ $r->{$c}{timeline} }) {
            # second, handshakes, good staples, max ms (a stalled second: the
            # latency of the handshakes that started in it)
            # a second in which no handshake started has no latency: a gap
            printf $fh "%d %d %d %s\n", $p->[0], $p->[1], $p->[2],
                $p->[1] > 0 ? sprintf('%.3f', $p->[3]) : 'NaN';
        }
        close $fh;
        push @lines, [$c, "$dir/$s-$c.dat"];
    }
    my %color = (nostaple => '#999999', modssl => '#d62728', md => '#1f77b4', guard => '#2ca02c');
    my %width = (nostaple => 2, modssl => 3, md => 2, guard => 3);
    open my $gp, '>', "$dir/$s.gp" or die;
    print $gp "set terminal pngcairo size 1100,760 font 'Sans,11' noenhanced\n"
        . "set output '$docs/bench-$s.png'\n"
        . "set multiplot layout 2,1 title '$title'\n"
        . "set grid\nset key outside right top\nset xrange [0:*]\n"
        . "set lmargin 12\n";
    print $gp "set arrow from $fault_at, graph 0 to $fault_at, graph 1 nohead dt 2 lc rgb '#000000'\n"
        . "set label 'responder fault' at $fault_at, graph 0.95 offset 0.5,0\n" if defined $fault_at;
    print $gp "set ylabel 'handshakes per second'\nset xlabel ''\nset yrange [0:*]\n";
    print $gp "plot " . join(", ", map {
        "'$_->[1]' using 1:2 with lines lw $width{$_->[0]} lc rgb '$color{$_->[0]}' title '$NAME{$_->[0]}'"
    } @lines) . "\n";
    print $gp "set ylabel 'slowest handshake (ms, log)'\nset logscale y\n"
        . "set format y '%g'\nset yrange [1:30000]\nset xlabel 'seconds into the run'\n"
        . "set key title '(a gap: no handshake started)'\n";
    print $gp "plot " . join(", ", map {
        "'$_->[1]' using 1:4 with linespoints lw $width{$_->[0]} pt 7 ps 0.5 lc rgb '$color{$_->[0]}' title '$NAME{$_->[0]}'"
    } @lines) . "\n";
    print $gp "unset multiplot\n";
    close $gp;
    system('gnuplot', "$dir/$s.gp") == 0 or warn "gnuplot failed for $s\n";
    return -s "$docs/bench-$s.png" ? "bench-$s.png" : undef;
}

sub doc {
    my ($results, $docs) = @_;
    my $md = "# Benchmarks\n\n"
        . "Generated by `make bench` (bench/run.sh; " . scalar(gmtime) . " UTC) on this\n"
        . "machine: " . (`nproc` =~ s/\s+//r) . " cores. Every figure comes from one run, with all\n"
        . "contenders measured side by side; only ratios between them are judged.\n"
        . "Contenders: one httpd each (mpm_event, TLS 1.3, the same EC P-256 key and\n"
        . "chain, no session resumption), the certificate's responder a real\n"
        . "`openssl ocsp` behind the test suite's fault responder, all on 127.0.0.1.\n"
        . "The load client (bench/tls_load) makes full handshakes with the\n"
        . "status_request extension and parses, but does not verify, the staple.\n\n";

    if (my $h = slurp_json("$results/healthy.json")) {
        my $base = $h->{nostaple};
        $md .= "## Healthy responder, warm cache\n\n"
            . "Each contender loaded alone in turn (8 connections), in rounds, alternating.\n"
            . "Server CPU per handshake is read from /proc for the whole httpd (all\n"
            . "processes), so the client's share of the two cores does not blur it.\n\n"
            . "| contender | handshakes/s | ratio to no stapling | server CPU µs/handshake | server CPU ratio | client CPU µs/handshake | p50 ms | p99 ms | max ms | failed | stapled good % |\n"
            . "|---|---|---|---|---|---|---|---|---|---|---|\n";
        for my $c (@CONTENDERS) {
            my $x = $h->{$c} or next;
            $md .= sprintf "| %s | %.0f | %.3f | %.0f | %.3f | %.0f | %.2f | %.2f | %.1f | %d | %.1f |\n",
                $NAME{$c}, $x->{handshakes_per_s}, $x->{handshakes_per_s} / $base->{handshakes_per_s},
                $x->{server_cpu_us_per_handshake},
                $x->{server_cpu_us_per_handshake} / ($base->{server_cpu_us_per_handshake} || 1),
                $x->{client_cpu_us_per_handshake} // 0,
                $x->{p50_ms}, $x->{p99_ms}, $x->{max_ms}, $x->{failed}, $x->{stapled_good_pct};
        }
        if ($h->{guard} && $h->{modssl}) {
            my $g = $h->{guard}{handshakes_per_s};
            my ($cg, $cm, $cn) = map { $h->{$_}{server_cpu_us_per_handshake} || 1 } qw(guard modssl nostaple);
            $md .= sprintf "\nHandshakes per second of server CPU (from /proc), mod_ocsp_guard / mod_ssl "
                . "stapling = %.3f, mod_ocsp_guard / no stapling = %.3f; handshakes/s seen by the client on "
                . "the shared cores: %.3f and %.3f. The client's own work on a staple (parsing it, the longer "
                . "handshake; see its CPU column) takes CPU from the server on a 2-core machine, and CPU time "
                . "is noisy here: the targets are judged on instruction counts (callgrind, below).\n\n",
                $cm / $cg, $cn / $cg, $g / $h->{modssl}{handshakes_per_s}, $g / $base->{handshakes_per_s};
        }
        if ($h->{guard} && $h->{guard}{rounds_cpu_us}) {
            my @r;
            for my $i (0 .. $#{ $h->{guard}{rounds_cpu_us} }) {
                my ($g, $n, $m) = map { $h->{$_}{rounds_cpu_us}[$i] } qw(guard nostaple md);
                push @r, sprintf('%.3f (mod_md %.3f)', $n / $g, $n / $m) if $g && $n && $m;
            }
            $md .= "Round by round (each contender's rounds adjacent in time), handshakes per\n"
                . "server CPU-second of mod_ocsp_guard / no stapling: " . join(', ', @r)
                . ". The spread between rounds is this machine's noise.\n\n" if @r;
        }
    }

    my $FIRST = 5;
    my %TITLE = (cold => 'first start with the responder blackholed, nothing saved',
                 blackhole => 'responder blackholed (accepts, never answers)',
                 blackhole10 => 'responder blackholed, ten certificates per contender',
                 refused => 'responder refusing connections',
                 http500 => 'responder answering HTTP 500',
                 trylater => 'responder answering OCSP tryLater',
                 restart => 'full restart with the responder blackholed');
    my @plots;
    for my $s (qw(blackhole blackhole10 refused http500 trylater restart cold)) {
        my $r = slurp_json("$results/$s.json") or next;
        my $restart = $s eq 'restart' || $s eq 'cold';
        my $fault_at = $restart ? undef : ($r->{guard} && $r->{guard}{before} ? $r->{guard}{before}{to_s} : undef);
        $md .= "## " . ucfirst($TITLE{$s}) . "\n\n";
        if ($restart) {
            $md .= ($s eq 'cold'
                    ? "Every contender started for the first time (nothing saved: no state dir,\n"
                      . "no mod_md store, no cache) with the responder blackholed.\n"
                    : "Every contender stopped, the responder blackholed, every contender\n"
                      . "started again (mod_md's store and our state dir kept, as on disk).\n")
                . "Then $FIRST single handshakes per contender, one contender at a time with\n"
                . "nothing else running (mod_ssl last), and all four loaded at once with 2\n"
                . "connections each for 15 s.\n\n"
                . "| contender | first handshake ms | stapled | next handshakes, median ms | stapled | under load: handshakes | failed | stapled good % | p99 ms | max ms |\n"
                . "|---|---|---|---|---|---|---|---|---|---|\n";
            for my $c (@CONTENDERS) {
                my $x = $r->{$c} or next;
                my @p = @{ $x->{probes} || [] };
                my $first = shift @p;
                my @rest = sort { $a <=> $b } grep { defined } map { $_->{ms} } @p;
                $md .= sprintf "| %s | %s | %s | %s | %d/%d | %d | %d | %.1f | %.2f | %.1f |\n", $NAME{$c},
                    $first ? fmt('%.1f', $first->{ms}) : 'n/a', ($first && $first->{stapled_good} ? 'yes' : 'no'),
                    @rest ? sprintf('%.1f', $rest[$#rest / 2]) : 'n/a',
                    scalar(grep { $_->{stapled_good} } @p), scalar(@p),
                    $x->{handshakes}, $x->{failed},
                    $x->{handshakes} ? 100 * $x->{stapled_good} / $x->{handshakes} : 0,
                    $x->{p99_ms}, $x->{max_ms};
            }
            if ($r->{guard} && $r->{nostaple} && @{ $r->{guard}{probes} || [] } && @{ $r->{nostaple}{probes} || [] }) {
                my ($g, $n) = ($r->{guard}{probes}[0], $r->{nostaple}{probes}[0]);
                $md .= sprintf "\nTargets: our first handshake %.1f ms vs %.1f ms for no stapling (ratio %.2f; "
                    . "no wait for the responder: %s)", $g->{ms}, $n->{ms}, $n->{ms} ? $g->{ms} / $n->{ms} : 0,
                    verdict($g->{ms} < 1000);
                $md .= $s eq 'cold' ? ".\n\n"
                    : sprintf("; stapled from the first handshake: %s.\n\n", verdict($g->{stapled_good}));
            }
        }
        else {
            $md .= "Each contender serves ten name-based vhosts, a certificate each, and the\n"
                . "load asks for the ten names in turn.\n" if $s eq 'blackhole10';
            $md .= "All four contenders under load at once (2 connections each); the fault\n"
                . "starts at second $fault_at and lasts to the end. Responses are valid 60 s\n"
                . "and every contender has to refresh inside the outage (mod_ssl with\n"
                . "SSLStaplingStandardCacheTimeout 20, its one setting off the defaults: its\n"
                . "default hour would not come round in a run; mod_md and mod_ocsp_guard\n"
                . "refresh at their default share of the validity).\n\n"
                . "| contender | failed | stapled good % | p50 ms before / during | p99 ms before / during | max ms during | handshakes/s before / during | seconds below half rate |\n"
                . "|---|---|---|---|---|---|---|---|\n";
            for my $c (@CONTENDERS) {
                my $x = $r->{$c} or next;
                my ($b, $a) = ($x->{before}, $x->{after});
                $md .= sprintf "| %s | %d | %.1f | %.2f / %.2f | %.2f / %.2f | %.1f | %.0f / %.0f | %s |\n",
                    $NAME{$c}, $x->{failed},
                    $x->{handshakes} ? 100 * $x->{stapled_good} / $x->{handshakes} : 0,
                    $b->{p50_ms}, $a->{p50_ms}, $b->{p99_ms}, $a->{p99_ms}, $a->{max_ms},
                    $b->{per_second}, $a->{per_second}, $x->{seconds_below_half_rate} // 'n/a';
            }
            if (my $g = $r->{guard}) {
                my $ratio = $g->{before}{p99_ms} ? $g->{after}{p99_ms} / $g->{before}{p99_ms} : 0;
                $md .= sprintf "\nTargets for mod_ocsp_guard: failed %d (0: %s); p99 during / before %.2f "
                    . "(<= 1.2: %s); seconds below half the healthy rate %d (0: %s); "
                    . "every handshake stapled good %d/%d (%s).\n\n",
                    $g->{failed}, verdict($g->{failed} == 0), $ratio, verdict($ratio <= 1.2),
                    $g->{seconds_below_half_rate} // 0, verdict(!$g->{seconds_below_half_rate}),
                    $g->{stapled_good}, $g->{handshakes}, verdict($g->{stapled_good} == $g->{handshakes});
            }
        }
        if (my $png = plot($results, $docs, $s, $r, $fault_at, ucfirst $TITLE{$s})) {
            $md .= "![$TITLE{$s}]($png)\n\n";
            push @plots, $png;
        }
    }

    if (my $cg = slurp_json("$results/callgrind.json")) {
        my $n = $cg->{nostaple} && $cg->{nostaple}{ir_per_handshake};
        my $g = $cg->{guard} || {};
        $md .= "## The server's instructions per handshake (callgrind)\n\n"
            . "Each contender in one httpd process (`-X`) under `valgrind --tool=callgrind`,\n"
            . "counting only inside connection processing (where the TLS handshake runs,\n"
            . "with the stapling hooks; start-up and background fetchers stay out), over\n"
            . "about 300 full handshakes with status_request after a warm-up. Instruction\n"
            . "counts do not move with machine noise: this is the healthy-cache cost\n"
            . "comparison the targets are judged on.\n\n"
            . "| contender | instructions per handshake | ratio to no stapling | handshakes per instruction, ratio to no stapling | stapled good (after the warm-up) |\n"
            . "|---|---|---|---|---|\n";
        for my $c (@CONTENDERS) {
            my $x = $cg->{$c} or next;
            $md .= sprintf "| %s | %.0f | %s | %s | %d/%d |\n", $NAME{$c}, $x->{ir_per_handshake},
                $n ? sprintf('%.4f', $x->{ir_per_handshake} / $n) : 'n/a',
                $n && $x->{ir_per_handshake} ? sprintf('%.3f', $n / $x->{ir_per_handshake}) : 'n/a',
                $x->{stapled_good}, $x->{measured} // $x->{handshakes};
        }
        if ($n && $g->{ir_per_handshake} && $cg->{modssl}) {
            my $vs_n = $n / $g->{ir_per_handshake};
            my $vs_m = $cg->{modssl}{ir_per_handshake} / $g->{ir_per_handshake};
            $md .= sprintf "\nTargets (healthy, warm): handshakes per server instruction, mod_ocsp_guard / "
                . "mod_ssl stapling = %.3f (>= 1.00: %s); mod_ocsp_guard / no stapling = %.3f (>= 0.95: %s).\n",
                $vs_m, verdict($vs_m >= 1.0), $vs_n, verdict($vs_n >= 0.95);
        }
        if ($g->{hook_ir_per_call}) {
            $md .= sprintf "\nOur get_resp hook: %.0f instructions per call (mod_ssl's copy of the DER\n"
                . "included), %.4f%% of the server's instructions per handshake (<= 0.5%%: %s).\n"
                . "Per handshake it does one hash lookup (the certificate id's own first bytes\n"
                . "are the hash), one atomic read of the certificate's generation word in\n"
                . "shared memory, a read lock of its own process's copy, the callback that\n"
                . "hands mod_ssl the DER, and one atomic counter increment: no system call,\n"
                . "no allocation, no global mutex; the shared cache is read only when the\n"
                . "generation changed. The rest of the difference to no stapling is\n"
                . "mod_ssl's status callback and the longer handshake, the same for mod_md.\n\n",
                $g->{hook_ir_per_call}, $g->{hook_share_pct}, verdict($g->{hook_share_pct} <= 0.5);
            $md .= "The hook's profile (inclusive, all calls):\n\n```\n$g->{hook_profile}```\n\n"
                if $g->{hook_profile};
        }
    }
    if (my $v = slurp_json("$results/vhosts.json")) {
        $md .= "## 1,000 vhosts\n\n"
            . "One httpd with $v->{certificates} name-based TLS vhosts on one port, each with its own\n"
            . "certificate, against one `openssl ocsp` responder (behind the fault\n"
            . "responder, which logs every request it sees).\n\n"
            . "| measure | value | target |\n|---|---|---|\n"
            . sprintf("| seconds from start until every certificate is stapled | %s | <= 30: %s |\n",
                      fmt('%.1f', $v->{seconds_to_all_stapled}),
                      verdict(defined $v->{seconds_to_all_stapled} && $v->{seconds_to_all_stapled} <= 30))
            . sprintf("| responder requests, first round | %s | = %d: %s |\n", $v->{requests_round1} // 'n/a',
                      $v->{certificates}, verdict(($v->{requests_round1} // -1) == $v->{certificates}))
            . sprintf("| responder requests, second round (refresh) | %s | = %d: %s |\n", $v->{requests_round2} // 'n/a',
                      $v->{certificates}, verdict(($v->{requests_round2} // -1) == $v->{certificates}))
            . sprintf("| vhosts checked from outside, stapled good | %s / %s | all |\n",
                      $v->{sample_stapled} // 'n/a', $v->{sample_size} // 'n/a')
            . sprintf("| memory per certificate, all httpd processes (PSS, with vs without the module), after the first round | %s KB | |\n",
                      fmt('%.1f', $v->{pss_kb_per_cert}))
            . sprintf("| the same after the second round (the fetcher's pools at their peak) | %s KB | |\n",
                      fmt('%.1f', $v->{pss_kb_per_cert_after_round2}))
            . sprintf("| httpd processes | %s | |\n\n", $v->{processes} // 'n/a');
    }
    if (my $f = slurp_json("$results/fetch.json")) {
        $md .= "## 10,000 certificates through the fetch engine\n\n"
            . "The core in src/ driven by bench/fetch_scale (no httpd): every\n"
            . "certificate fetched from one `openssl ocsp` and validated.\n\n"
            . "```\n" . JSON::PP->new->canonical->pretty->encode($f) . "```\n\n";
    }
    open my $o, '>', "$docs/benchmarks.md" or die "$docs/benchmarks.md: $!";
    print $o $md;
    close $o;
}
