pub mod php;
