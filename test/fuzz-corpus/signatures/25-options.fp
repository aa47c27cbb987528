[tcp:request]
label = s:!:x:y
sys = Linux
sig = 4:64:0:1460:1024,0:nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop::0
