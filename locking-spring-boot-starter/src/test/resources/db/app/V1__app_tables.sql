CREATE TABLE app_marker (id int PRIMARY KEY);
