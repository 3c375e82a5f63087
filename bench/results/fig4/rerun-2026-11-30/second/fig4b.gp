set terminal pngcairo size 960,600 noenhanced
set output '/tmp/f-fig4b/fig4b.png'
set title 'Fig. 4(b): ps inside the VM right after construction (median, min..max)'
set logscale x 2
set xlabel 'chunk size (KiB)'
set ylabel 'ps in the guest (ms, as the agent timed it)'
set yrange [0:*]
set key top right
set grid
set y2label 'guest page-ins during ps'
set y2range [0:*]
set ytics nomirror
set y2tics
plot '/tmp/f-fig4b/fig4b.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title 'after method 2', \
     '/tmp/f-fig4b/fig4b.dat' index 0 using 1:5 axes x1y2 with linespoints dt 2 title 'page-ins after method 2', \
     '/tmp/f-fig4b/fig4b.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title 'after method 1', \
     '/tmp/f-fig4b/fig4b.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title 'unsplit VM'
