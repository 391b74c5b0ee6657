! bmif_2_0: the CSDMS Basic Model Interface 2.0 for Fortran, written from
! the BMI 2.0 specification (docs/coupling.md). nunatak builds this module
! only where no installed CSDMS "bmif" library is found (pkg-config bmif):
! a host that has one gets the same module from it, and nunatak's type
! bmi_nunatak extends that one instead, so there is one bmif_2_0 per program.
module bmif_2_0
  implicit none
  private

  integer, parameter, public :: BMI_MAX_COMPONENT_NAME = 2048
  integer, parameter, public :: BMI_MAX_VAR_NAME = 2048
  integer, parameter, public :: BMI_MAX_TYPE_NAME = 2048
  integer, parameter, public :: BMI_MAX_UNITS_NAME = 2048
  integer, parameter, public :: BMI_FAILURE = 1
  integer, parameter, public :: BMI_SUCCESS = 0

  !> A model that implements BMI 2.0: every procedure returns BMI_SUCCESS or BMI_FAILURE.
  type, abstract, public :: bmi
   contains
     procedure(bmif_get_component_name), deferred :: get_component_name
     procedure(bmif_get_input_item_count), deferred :: get_input_item_count
     procedure(bmif_get_output_item_count), deferred :: get_output_item_count
     procedure(bmif_get_input_var_names), deferred :: get_input_var_names
     procedure(bmif_get_output_var_names), deferred :: get_output_var_names
     procedure(bmif_initialize), deferred :: initialize
     procedure(bmif_update), deferred :: update
     procedure(bmif_update_until), deferred :: update_until
     procedure(bmif_finalize), deferred :: finalize
     procedure(bmif_get_start_time), deferred :: get_start_time
     procedure(bmif_get_end_time), deferred :: get_end_time
     procedure(bmif_get_current_time), deferred :: get_current_time
     procedure(bmif_get_time_step), deferred :: get_time_step
     procedure(bmif_get_time_units), deferred :: get_time_units
     procedure(bmif_get_var_type), deferred :: get_var_type
     procedure(bmif_get_var_units), deferred :: get_var_units
     procedure(bmif_get_var_itemsize), deferred :: get_var_itemsize
     procedure(bmif_get_var_nbytes), deferred :: get_var_nbytes
     procedure(bmif_get_var_grid), deferred :: get_var_grid
     procedure(bmif_get_var_location), deferred :: get_var_location
     procedure(bmif_get_grid_type), deferred :: get_grid_type
     procedure(bmif_get_grid_rank), deferred :: get_grid_rank
     procedure(bmif_get_grid_shape), deferred :: get_grid_shape
     procedure(bmif_get_grid_size), deferred :: get_grid_size
     procedure(bmif_get_grid_spacing), deferred :: get_grid_spacing
     procedure(bmif_get_grid_origin), deferred :: get_grid_origin
     procedure(bmif_get_grid_x), deferred :: get_grid_x
     procedure(bmif_get_grid_y), deferred :: get_grid_y
     procedure(bmif_get_grid_z), deferred :: get_grid_z
     procedure(bmif_get_grid_node_count), deferred :: get_grid_node_count
     procedure(bmif_get_grid_edge_count), deferred :: get_grid_edge_count
     procedure(bmif_get_grid_face_count), deferred :: get_grid_face_count
     procedure(bmif_get_grid_edge_nodes), deferred :: get_grid_edge_nodes
     procedure(bmif_get_grid_face_edges), deferred :: get_grid_face_edges
     procedure(bmif_get_grid_face_nodes), deferred :: get_grid_face_nodes
     procedure(bmif_get_grid_nodes_per_face), deferred :: get_grid_nodes_per_face
     procedure(bmif_get_value_int), deferred :: get_value_int
     procedure(bmif_get_value_float), deferred :: get_value_float
     procedure(bmif_get_value_double), deferred :: get_value_double
     procedure(bmif_get_value_ptr_int), deferred :: get_value_ptr_int
     procedure(bmif_get_value_ptr_float), deferred :: get_value_ptr_float
     procedure(bmif_get_value_ptr_double), deferred :: get_value_ptr_double
     procedure(bmif_get_value_at_indices_int), deferred :: get_value_at_indices_int
     procedure(bmif_get_value_at_indices_float), deferred :: get_value_at_indices_float
     procedure(bmif_get_value_at_indices_double), deferred :: get_value_at_indices_double
     procedure(bmif_set_value_int), deferred :: set_value_int
     procedure(bmif_set_value_float), deferred :: set_value_float
     procedure(bmif_set_value_double), deferred :: set_value_double
     procedure(bmif_set_value_at_indices_int), deferred :: set_value_at_indices_int
     procedure(bmif_set_value_at_indices_float), deferred :: set_value_at_indices_float
     procedure(bmif_set_value_at_indices_double), deferred :: set_value_at_indices_double
     generic :: get_value => get_value_int, get_value_float, get_value_double
     generic :: get_value_ptr => get_value_ptr_int, get_value_ptr_float, get_value_ptr_double
     generic :: get_value_at_indices => get_value_at_indices_int, &
          get_value_at_indices_float, get_value_at_indices_double
     generic :: set_value => set_value_int, set_value_float, set_value_double
     generic :: set_value_at_indices => set_value_at_indices_int, &
          set_value_at_indices_float, set_value_at_indices_double
  end type bmi

  abstract interface
     function bmif_get_component_name(this, name) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), pointer, intent(out) :: name
       integer :: bmi_status
     end function bmif_get_component_name

     function bmif_get_input_item_count(this, count) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(out) :: count
       integer :: bmi_status
     end function bmif_get_input_item_count

     function bmif_get_output_item_count(this, count) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(out) :: count
       integer :: bmi_status
     end function bmif_get_output_item_count

     function bmif_get_input_var_names(this, names) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), pointer, intent(out) :: names(:)
       integer :: bmi_status
     end function bmif_get_input_var_names

     function bmif_get_output_var_names(this, names) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), pointer, intent(out) :: names(:)
       integer :: bmi_status
     end function bmif_get_output_var_names

     function bmif_initialize(this, config_file) result(bmi_status)
       import :: bmi
       class(bmi), intent(out) :: this
       character(len=*), intent(in) :: config_file
       integer :: bmi_status
     end function bmif_initialize

     function bmif_update(this) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       integer :: bmi_status
     end function bmif_update

     function bmif_update_until(this, time) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       double precision, intent(in) :: time
       integer :: bmi_status
     end function bmif_update_until

     function bmif_finalize(this) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       integer :: bmi_status
     end function bmif_finalize

     function bmif_get_start_time(this, time) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       double precision, intent(out) :: time
       integer :: bmi_status
     end function bmif_get_start_time

     function bmif_get_end_time(this, time) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       double precision, intent(out) :: time
       integer :: bmi_status
     end function bmif_get_end_time

     function bmif_get_current_time(this, time) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       double precision, intent(out) :: time
       integer :: bmi_status
     end function bmif_get_current_time

     function bmif_get_time_step(this, time_step) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       double precision, intent(out) :: time_step
       integer :: bmi_status
     end function bmif_get_time_step

     function bmif_get_time_units(this, units) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(out) :: units
       integer :: bmi_status
     end function bmif_get_time_units

     function bmif_get_var_type(this, name, type) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       character(len=*), intent(out) :: type
       integer :: bmi_status
     end function bmif_get_var_type

     function bmif_get_var_units(this, name, units) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       character(len=*), intent(out) :: units
       integer :: bmi_status
     end function bmif_get_var_units

     function bmif_get_var_itemsize(this, name, size) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       integer, intent(out) :: size
       integer :: bmi_status
     end function bmif_get_var_itemsize

     function bmif_get_var_nbytes(this, name, nbytes) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       integer, intent(out) :: nbytes
       integer :: bmi_status
     end function bmif_get_var_nbytes

     function bmif_get_var_grid(this, name, grid) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       integer, intent(out) :: grid
       integer :: bmi_status
     end function bmif_get_var_grid

     function bmif_get_var_location(this, name, location) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       character(len=*), intent(out) :: location
       integer :: bmi_status
     end function bmif_get_var_location

     function bmif_get_grid_type(this, grid, type) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       character(len=*), intent(out) :: type
       integer :: bmi_status
     end function bmif_get_grid_type

     function bmif_get_grid_rank(this, grid, rank) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, intent(out) :: rank
       integer :: bmi_status
     end function bmif_get_grid_rank

     function bmif_get_grid_shape(this, grid, shape) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, dimension(:), intent(out) :: shape
       integer :: bmi_status
     end function bmif_get_grid_shape

     function bmif_get_grid_size(this, grid, size) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, intent(out) :: size
       integer :: bmi_status
     end function bmif_get_grid_size

     function bmif_get_grid_spacing(this, grid, spacing) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       double precision, dimension(:), intent(out) :: spacing
       integer :: bmi_status
     end function bmif_get_grid_spacing

     function bmif_get_grid_origin(this, grid, origin) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       double precision, dimension(:), intent(out) :: origin
       integer :: bmi_status
     end function bmif_get_grid_origin

     function bmif_get_grid_x(this, grid, x) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       double precision, dimension(:), intent(out) :: x
       integer :: bmi_status
     end function bmif_get_grid_x

     function bmif_get_grid_y(this, grid, y) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       double precision, dimension(:), intent(out) :: y
       integer :: bmi_status
     end function bmif_get_grid_y

     function bmif_get_grid_z(this, grid, z) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       double precision, dimension(:), intent(out) :: z
       integer :: bmi_status
     end function bmif_get_grid_z

     function bmif_get_grid_node_count(this, grid, count) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, intent(out) :: count
       integer :: bmi_status
     end function bmif_get_grid_node_count

     function bmif_get_grid_edge_count(this, grid, count) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, intent(out) :: count
       integer :: bmi_status
     end function bmif_get_grid_edge_count

     function bmif_get_grid_face_count(this, grid, count) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, intent(out) :: count
       integer :: bmi_status
     end function bmif_get_grid_face_count

     function bmif_get_grid_edge_nodes(this, grid, edge_nodes) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, dimension(:), intent(out) :: edge_nodes
       integer :: bmi_status
     end function bmif_get_grid_edge_nodes

     function bmif_get_grid_face_edges(this, grid, face_edges) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, dimension(:), intent(out) :: face_edges
       integer :: bmi_status
     end function bmif_get_grid_face_edges

     function bmif_get_grid_face_nodes(this, grid, face_nodes) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, dimension(:), intent(out) :: face_nodes
       integer :: bmi_status
     end function bmif_get_grid_face_nodes

     function bmif_get_grid_nodes_per_face(this, grid, nodes_per_face) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       integer, intent(in) :: grid
       integer, dimension(:), intent(out) :: nodes_per_face
       integer :: bmi_status
     end function bmif_get_grid_nodes_per_face

     function bmif_get_value_int(this, name, dest) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       integer, intent(inout) :: dest(:)
       integer :: bmi_status
     end function bmif_get_value_int

     function bmif_get_value_float(this, name, dest) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       real, intent(inout) :: dest(:)
       integer :: bmi_status
     end function bmif_get_value_float

     function bmif_get_value_double(this, name, dest) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       double precision, intent(inout) :: dest(:)
       integer :: bmi_status
     end function bmif_get_value_double

     function bmif_get_value_ptr_int(this, name, dest_ptr) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       integer, pointer, intent(inout) :: dest_ptr(:)
       integer :: bmi_status
     end function bmif_get_value_ptr_int

     function bmif_get_value_ptr_float(this, name, dest_ptr) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       real, pointer, intent(inout) :: dest_ptr(:)
       integer :: bmi_status
     end function bmif_get_value_ptr_float

     function bmif_get_value_ptr_double(this, name, dest_ptr) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       double precision, pointer, intent(inout) :: dest_ptr(:)
       integer :: bmi_status
     end function bmif_get_value_ptr_double

     function bmif_get_value_at_indices_int(this, name, dest, inds) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       integer, intent(inout) :: dest(:)
       integer, intent(in) :: inds(:)
       integer :: bmi_status
     end function bmif_get_value_at_indices_int

     function bmif_get_value_at_indices_float(this, name, dest, inds) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       real, intent(inout) :: dest(:)
       integer, intent(in) :: inds(:)
       integer :: bmi_status
     end function bmif_get_value_at_indices_float

     function bmif_get_value_at_indices_double(this, name, dest, inds) result(bmi_status)
       import :: bmi
       class(bmi), intent(in) :: this
       character(len=*), intent(in) :: name
       double precision, intent(inout) :: dest(:)
       integer, intent(in) :: inds(:)
       integer :: bmi_status
     end function bmif_get_value_at_indices_double

     function bmif_set_value_int(this, name, src) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       character(len=*), intent(in) :: name
       integer, intent(in) :: src(:)
       integer :: bmi_status
     end function bmif_set_value_int

     function bmif_set_value_float(this, name, src) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       character(len=*), intent(in) :: name
       real, intent(in) :: src(:)
       integer :: bmi_status
     end function bmif_set_value_float

     function bmif_set_value_double(this, name, src) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       character(len=*), intent(in) :: name
       double precision, intent(in) :: src(:)
       integer :: bmi_status
     end function bmif_set_value_double

     function bmif_set_value_at_indices_int(this, name, inds, src) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       character(len=*), intent(in) :: name
       integer, intent(in) :: inds(:)
       integer, intent(in) :: src(:)
       integer :: bmi_status
     end function bmif_set_value_at_indices_int

     function bmif_set_value_at_indices_float(this, name, inds, src) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       character(len=*), intent(in) :: name
       integer, intent(in) :: inds(:)
       real, intent(in) :: src(:)
       integer :: bmi_status
     end function bmif_set_value_at_indices_float

     function bmif_set_value_at_indices_double(this, name, inds, src) result(bmi_status)
       import :: bmi
       class(bmi), intent(inout) :: this
       character(len=*), intent(in) :: name
       integer, intent(in) :: inds(:)
       double precision, intent(in) :: src(:)
       integer :: bmi_status
     end function bmif_set_value_at_indices_double
  end interface

end module bmif_2_0
