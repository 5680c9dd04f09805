module github.com/edgek-io/edgek/build/dashboard

go 1.26.6
