set terminal pngcairo size 1100,760 font 'Sans,11' noenhanced
set output '/work/main/docs/bench-blackhole.png'
set multiplot layout 2,1 title 'Responder blackholed (accepts, never answers)'
set grid
set key outside right top
set xrange [0:*]
set lmargin 12
set arrow from 8, graph 0 to 8, graph 1 nohead dt 2 lc rgb '#000000'
set label 'responder fault' at 8, graph 0.95 offset 0.5,0
set ylabel 'handshakes per second'
set xlabel ''
set yrange [0:*]
plot '/work/main/bench/results/plot/blackhole-nostaple.dat' using 1:2 with lines lw 2 lc rgb '#999999' title 'no stapling', '/work/main/bench/results/plot/blackhole-modssl.dat' using 1:2 with lines lw 3 lc rgb '#d62728' title 'mod_ssl SSLUseStapling', '/work/main/bench/results/plot/blackhole-md.dat' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'mod_md MDStapling', '/work/main/bench/results/plot/blackhole-guard.dat' using 1:2 with lines lw 3 lc rgb '#2ca02c' title 'mod_ocsp_guard'
set ylabel 'slowest handshake (ms, log)'
set logscale y
set format y '%g'
set yrange [1:30000]
set xlabel 'seconds into the run'
set key title '(a gap: no handshake started)'
plot '/work/main/bench/results/plot/blackhole-nostaple.dat' using 1:4 with linespoints lw 2 pt 7 ps 0.5 lc rgb '#999999' title 'no stapling', '/work/main/bench/results/plot/blackhole-modssl.dat' using 1:4 with linespoints lw 3 pt 7 ps 0.5 lc rgb '#d62728' title 'mod_ssl SSLUseStapling', '/work/main/bench/results/plot/blackhole-md.dat' using 1:4 with linespoints lw 2 pt 7 ps 0.5 lc rgb '#1f77b4' title 'mod_md MDStapling', '/work/main/bench/results/plot/blackhole-guard.dat' using 1:4 with linespoints lw 3 pt 7 ps 0.5 lc rgb '#2ca02c' title 'mod_ocsp_guard'
unset multiplot
