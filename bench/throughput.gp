# SPDX-License-Identifier: GPL-2.0
# Throughput per balancer, keep-alive and new connections (bench/report.py).
# gnuplot -e "datafile='F'; outfile='O.png'; charttitle='T'; nbars=N" throughput.gp
# datafile rows: "balancer" ka_median ka_min ka_max close_median close_min close_max
if (!exists("charttitle")) charttitle = "Throughput"
if (!exists("nbars")) nbars = 7
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1100,560 font "sans,10"
} else {
    set terminal png size 1100,560
}
set output outfile
set title charttitle
set ylabel "requests per second"
set format y "%.0s%c"
set yrange [0:*]
set grid ytics
set key top right
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -20 scale 0
set xrange [-0.6:nbars - 0.4]
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
# Two boxes per cluster, a gap of 2: box centres at x -/+ 0.125.
k(v) = sprintf("%.0fk", v / 1000.0)
plot datafile using 2:3:4:xtic(1) title "keep-alive" linecolor rgb "#3b6ea8", \
     '' using 5:6:7 title "new connections (Connection: close)" linecolor rgb "#e08a2c", \
     '' using ($0 - 0.125):4:(k($2)) with labels offset 0,0.8 font ",9" notitle, \
     '' using ($0 + 0.125):7:(k($5)) with labels offset 0,0.8 font ",9" notitle
