#!/bin/bash
# A single-node Slurm cluster on this machine, for tests of the Slurm backend (Debian 12, run as root, no systemd).
# Seen working here: Slurm 22.05.8; install ~35 s, daemon start ~3 s, a 4-task array of 3 s jobs ~8 s end to end.
# Usage: slurm-local.sh install|start|stop|status      BASE (default /tmp/slurm-local) holds config, state and logs.
set -u
BASE=${BASE:-/tmp/slurm-local}
export SLURM_CONF=$BASE/slurm.conf          # slurmdbd.conf is found beside it
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
write_conf() {
  mkdir -p $BASE/spool/ctld $BASE/spool/d $BASE/log
  cat > $BASE/slurm.conf <<CONF
ClusterName=localtest
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$BASE/slurmctld.pid
SlurmdPidFile=$BASE/slurmd.pid
StateSaveLocation=$BASE/spool/ctld
SlurmdSpoolDir=$BASE/spool/d
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
MaxArraySize=1001
InactiveLimit=0
KillWait=30
MinJobAge=300
Waittime=0
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
  cat > $BASE/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$BASE/log/slurmdbd.log
PidFile=$BASE/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurm-local-test
CONF
  chmod 600 $BASE/slurmdbd.conf
}
wait_port() { for i in $(seq 1 120); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.25; done; return 1; }
case "${1:-}" in
install)
  apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm munge slurmdbd mariadb-server ;;
start)
  # A cluster that already answers is left alone (restarting would remove the database's socket
  # under the running slurmdbd and break accounting).
  if sinfo -h -o %t 2>/dev/null | grep -q . && sacct -n -X >/dev/null 2>&1; then
    echo "slurm-local: already running"; sinfo; exit 0
  fi
  write_conf
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && rm -f /run/mysqld/mysqld.sock
  nohup /usr/sbin/mariadbd --user=mysql --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid \
        --bind-address=127.0.0.1 > $BASE/log/mariadb.log 2>&1 &
  for i in $(seq 1 80); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.25; done
  mariadb -u root -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
     CREATE OR REPLACE USER 'slurm'@'localhost' IDENTIFIED BY 'slurm-local-test';
     GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  /usr/sbin/slurmdbd
  wait_port 6819 || { echo "slurmdbd did not start: see $BASE/log/slurmdbd.log" >&2; exit 1; }
  /usr/sbin/slurmctld -f $SLURM_CONF
  wait_port 6817 || { echo "slurmctld did not start: see $BASE/log/slurmctld.log" >&2; exit 1; }
  /usr/sbin/slurmd -f $SLURM_CONF
  for i in $(seq 1 80); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.25; done
  sinfo ;;
stop)   # stops only the daemons started above, by their pid files
  for f in $BASE/slurmd.pid $BASE/slurmctld.pid $BASE/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid; do
    [ -f "$f" ] && p=$(cat "$f") && kill "$p" 2>/dev/null && echo "stopped $p ($f)"
  done ;;
status)
  for f in $BASE/slurmd.pid $BASE/slurmctld.pid $BASE/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid; do
    [ -f "$f" ] && { kill -0 "$(cat "$f")" 2>/dev/null && echo "$f alive" || echo "$f dead"; }
  done ;;
*) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
