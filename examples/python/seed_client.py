# Example Python program that sends file descriptors
# (the client of the "Temperature data" example of Python's sendmsg()
# documentation, run as a capsock guest: only the import line differs)
import array
from capsock import os, socket  # natively: import os, socket

# Create two file descriptors and send them
fd1 = os.open("./temperature_log1.txt", os.O_RDONLY)
fd2 = os.open("./temperature_log2.txt", os.O_RDONLY)
fds = [fd1, fd2]

# Create a Unix domain socket
clientSocket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

# Connect to the server
clientSocket.connect("./uds_socket")

# Non-ancillary message for the sendmsg() function
nonAncilMsg = bytes("Temperature data", "utf-8")

# Ancillary message for the sendmsg() function
ancillaryMsg = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]

# Send nonAncilMsg + ancillaryMsg to the server
clientSocket.sendmsg([nonAncilMsg], ancillaryMsg)
print("Message sent to the server")

# The server's reply, with the descriptor it sends back (send_fds/recv_fds)
msg, fdList, flags, addr = socket.recv_fds(clientSocket, 1024, 1)
print("Reply from the server: %s" % msg.decode())
for fd in fdList:
    os.lseek(fd, 0, 0)
    print("Returned file starts: %s" % os.read(fd, 9).decode())
    os.close(fd)
clientSocket.close()
