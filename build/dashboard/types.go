package main

import (
	"strconv"
	"time"
)

// The few fields of Kubernetes objects the pages show. encoding/json matches field names
// case-insensitively and skips the rest, so a decoded list holds only these.

type objectMeta struct {
	Name, Namespace   string
	CreationTimestamp time.Time
	DeletionTimestamp *time.Time
	Labels            map[string]string
	Annotations       map[string]string
}

type listMeta struct {
	Continue string // set when the list was cut at the limit asked for
}

type condition struct {
	Type, Status, Reason, Message string
	LastTransitionTime            time.Time
}

type userInfo struct {
	Username string
	Groups   []string
}

type node struct {
	Metadata objectMeta
	Spec     struct{ Unschedulable bool }
	Status   struct {
		Capacity   map[string]string
		Conditions []condition
		Addresses  []struct{ Type, Address string }
		NodeInfo   struct{ KubeletVersion, OSImage, Architecture, ContainerRuntimeVersion string }
	}
}

type nodeList struct {
	Metadata listMeta
	Items    []node
}

type namespace struct {
	Metadata objectMeta
	Status   struct{ Phase string }
}

type namespaceList struct {
	Metadata listMeta
	Items    []namespace
}

type container struct {
	Name, Image string
}

type podSpec struct {
	NodeName       string
	Containers     []container
	InitContainers []container
}

type labelSelector struct {
	MatchLabels      map[string]string
	MatchExpressions []struct{ Key, Operator string }
}

// workload is a Deployment, StatefulSet or DaemonSet: their status fields differ, so it holds
// the union of those shown.
type workload struct {
	Metadata objectMeta
	Spec     struct {
		Replicas *int32
		Selector *labelSelector
		Template struct {
			Metadata objectMeta
			Spec     podSpec
		}
	}
	Status struct {
		// Deployment and StatefulSet.
		Replicas, ReadyReplicas, UpdatedReplicas, AvailableReplicas int32
		// DaemonSet.
		DesiredNumberScheduled, NumberReady, UpdatedNumberScheduled, NumberAvailable int32
		Conditions                                                                   []condition
	}
}

type workloadList struct {
	Metadata listMeta
	Items    []workload
}

// job is a batch/v1 Job.
type job struct {
	Metadata objectMeta
	Spec     struct {
		Completions *int32
		Suspend     *bool
	}
	Status struct {
		Active, Succeeded, Failed int32
		StartTime, CompletionTime *time.Time
		Conditions                []condition
	}
}

type jobList struct {
	Metadata listMeta
	Items    []job
}

// cronJob is a batch/v1 CronJob.
type cronJob struct {
	Metadata objectMeta
	Spec     struct {
		Schedule string
		Suspend  *bool
	}
	Status struct {
		Active           []struct{ Name string }
		LastScheduleTime *time.Time
	}
}

type cronJobList struct {
	Metadata listMeta
	Items    []cronJob
}

type containerStatus struct {
	Name         string
	Ready        bool
	RestartCount int32
	State        struct {
		Waiting    *struct{ Reason string }
		Terminated *struct {
			Reason   string
			ExitCode int32
			Signal   int32
		}
	}
}

type pod struct {
	Metadata objectMeta
	Spec     podSpec
	Status   struct {
		Phase, Reason, PodIP  string
		ContainerStatuses     []containerStatus
		InitContainerStatuses []containerStatus
	}
}

type podList struct {
	Metadata listMeta
	Items    []pod
}

// intOrString is a port's targetPort: a number or a port name.
type intOrString string

func (v *intOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		*v = intOrString(s)
		return err
	}
	*v = intOrString(b)
	return nil
}

type service struct {
	Metadata objectMeta
	Spec     struct {
		Type        string
		ClusterIP   string
		ExternalIPs []string
		Ports       []struct {
			Name, Protocol string
			Port, NodePort int32
			TargetPort     intOrString
		}
	}
	Status struct {
		LoadBalancer struct {
			Ingress []struct{ IP, Hostname string }
		}
	}
}

type serviceList struct {
	Metadata listMeta
	Items    []service
}

type event struct {
	Metadata       objectMeta
	InvolvedObject struct{ Kind, Name, Namespace string }
	Reason         string
	Message        string
	Type           string
	Count          int32
	FirstTimestamp time.Time
	LastTimestamp  time.Time
	EventTime      time.Time
	Series         *struct {
		Count            int32
		LastObservedTime time.Time
	}
	Source struct{ Component, Host string }
	// ReportingComponent is set by newer clients instead of Source.
	ReportingComponent string
}

type eventList struct {
	Metadata listMeta
	Items    []event
}
