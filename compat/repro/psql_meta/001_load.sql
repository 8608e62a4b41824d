CREATE TABLE t (a int);
\copy t from program 'echo 1'
