set terminal pngcairo size 960,600 noenhanced
set output '/tmp/f-fig4b/fig4a.png'
set title 'Fig. 4(a): shadow /proc construction vs chunk size (median, min..max)'
set logscale x 2
set xlabel 'chunk size (KiB)'
set ylabel 'shadow /proc construction (ms)'
set yrange [0:*]
set key top right
set grid
plot '/tmp/f-fig4b/fig4a.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title 'method 1: runtime fetch', \
     '/tmp/f-fig4b/fig4a.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title 'method 2: VM remote paging', \
     '/tmp/f-fig4b/fig4a.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title 'unsplit VM'
