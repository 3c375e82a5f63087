import sys,struct,array,collections
# usage: ptdump.py PT [OUT.bin]  -> per-64MiB counts per location; writes locations to OUT
f=open(sys.argv[1],'rb'); hdr=f.read(8192)
shift,nh=struct.unpack_from('<II',hdr,24); nr=struct.unpack_from('<Q',hdr,32)[0]
e=array.array('Q'); e.frombytes(f.read(nr*8))
loc=bytes(x & 0xff for x in e)
if len(sys.argv)>2: open(sys.argv[2],'wb').write(loc)
per=(64<<20)>>shift
print('chunk_shift',shift,'hosts',nh,'chunks',nr)
for s in range(0,nr,per):
    c=collections.Counter(loc[s:s+per]); print('%5d MiB'%((s<<shift)>>20), ' '.join('%s:%d'%({0:'abs',1:'main'}.get(k,'sub%d'%(k-1)),v) for k,v in sorted(c.items())))
# stripes: last address where the host alternates
st=(2<<20)>>shift; last=None; hosts_seq=[]
for s in range(0,nr,st):
    c=collections.Counter(x for x in loc[s:s+st] if x>=2)
    if c: hosts_seq.append((s,tuple(sorted(c))))
# tail: longest run at the end of stripes all on the same single host
tail=0; h=hosts_seq[-1][1]
for s,hs in reversed(hosts_seq):
    if hs==h and len(hs)==1: tail+=1
    else: break
print('stripes with remote chunks',len(hosts_seq),'; the last',tail,'all on',h,'from %d MiB'%((hosts_seq[-tail][0]<<shift)>>20))
